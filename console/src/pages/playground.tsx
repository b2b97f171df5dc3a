import { Page } from '../components/page';

export function PlaygroundPage() {
  return (
    <Page title="Playground">
      <p class="muted">Coming soon.</p>
    </Page>
  );
}
