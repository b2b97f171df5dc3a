import { Page } from '../components/page';

export function OverviewPage() {
  return (
    <Page title="Overview">
      <p class="muted">Coming soon.</p>
    </Page>
  );
}
