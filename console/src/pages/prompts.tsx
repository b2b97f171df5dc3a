import { Page } from '../components/page';

export function PromptsPage() {
  return (
    <Page title="Prompts">
      <p class="muted">Coming soon.</p>
    </Page>
  );
}
