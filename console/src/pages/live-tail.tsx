import { Page } from '../components/page';

export function LiveTailPage() {
  return (
    <Page title="Live tail">
      <p class="muted">Coming soon.</p>
    </Page>
  );
}
