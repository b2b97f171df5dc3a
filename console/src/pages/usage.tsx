import { Page } from '../components/page';

export function UsagePage() {
  return (
    <Page title="Usage">
      <p class="muted">Coming soon.</p>
    </Page>
  );
}
