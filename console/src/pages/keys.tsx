import { Page } from '../components/page';

export function KeysPage() {
  return (
    <Page title="Keys">
      <p class="muted">Coming soon.</p>
    </Page>
  );
}
