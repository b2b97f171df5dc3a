import { Page } from '../components/page';

export function ModelsPage() {
  return (
    <Page title="Providers and models">
      <p class="muted">Coming soon.</p>
    </Page>
  );
}
