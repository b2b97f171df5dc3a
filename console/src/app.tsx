/* The console: sign-in gate, then a frame with the pages this key may see. */
import { Provider as UrqlProvider } from '@urql/preact';
import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { createConsoleClient } from './client';
import { forgetKey, saveKey, storedKey } from './key-storage';
import { BASE, NAV } from './nav';
import { KeysPage } from './pages/keys';
import { LiveTailPage } from './pages/live-tail';
import { ModelsPage } from './pages/models';
import { OverviewPage } from './pages/overview';
import { PlaygroundPage } from './pages/playground';
import { PromptsPage } from './pages/prompts';
import { TeamsPage } from './pages/teams';
import { AccessPage } from './pages/access';
import { CallDetailsPage } from './pages/call-details';
import { CallsPage } from './pages/calls';
import { UsagePage } from './pages/usage';
import { SessionContext, type Scope, type Session, type Viewer } from './session';
import { checkKey, SignIn } from './sign-in';

const PAGES = {
  [`${BASE}/`]: OverviewPage,
  [`${BASE}/live`]: LiveTailPage,
  [`${BASE}/usage`]: UsagePage,
  [`${BASE}/calls`]: CallsPage,
  [`${BASE}/keys`]: KeysPage,
  [`${BASE}/models`]: ModelsPage,
  [`${BASE}/teams`]: TeamsPage,
  [`${BASE}/access`]: AccessPage,
  [`${BASE}/prompts`]: PromptsPage,
  [`${BASE}/playground`]: PlaygroundPage,
};

function can(viewer: Viewer, scope: Scope): boolean {
  return viewer.scopes.includes('ADMIN') || viewer.scopes.includes(scope);
}

/** The nav entry of the page shown: its own path, or a path under it (a call's details are under Calls) */
const current = (path: string, item: string) => path === item || (item === `${BASE}/` ? path === BASE : path.startsWith(`${item}/`));

function Frame({ session }: { session: Session }) {
  const { path } = useLocation();
  const items = NAV.filter((n) => n.scopes.some((s) => session.can(s)));
  const allowed = new Set(items.map((n) => n.path));
  const home = items[0]?.path;
  return (
    <div class="frame">
      <nav class="sidebar" aria-label="Console">
        <div class="brand">AI Gateway</div>
        <ul>
          {items.map((n) => (
            <li key={n.path}>
              <a href={n.path} aria-current={current(path, n.path) ? 'page' : undefined}>
                {n.label}
              </a>
            </li>
          ))}
        </ul>
        <div class="whoami">
          <div class="whoami-name" title={session.viewer.prefix}>
            {session.viewer.name}
          </div>
          <div class="muted small">{session.viewer.scopes.join(' · ')}</div>
          <button type="button" class="link" onClick={session.signOut}>
            Sign out
          </button>
        </div>
      </nav>
      <main class="content">
        <Router>
          {[
            ...Object.entries(PAGES)
              .filter(([p]) => allowed.has(p))
              .map(([p, Page]) => <Route key={p} path={p} component={Page} />),
            ...(allowed.has(`${BASE}/calls`) ? [<Route key="call" path={`${BASE}/calls/:id`} component={CallDetailsPage} />] : []),
            <Route key="base" path={BASE} component={allowed.has(`${BASE}/`) ? OverviewPage : () => <Redirect to={home} />} />,
            <Route key="default" default component={() => <Redirect to={home} />} />,
          ]}
        </Router>
      </main>
    </div>
  );
}

function Redirect({ to }: { to: string | undefined }) {
  const { route } = useLocation();
  useEffect(() => {
    if (to) route(to, true);
  }, [to]);
  return to ? null : <p class="muted">This key may not see any page of the console.</p>;
}

export function App() {
  const [signedIn, setSignedIn] = useState<{ key: string; viewer: Viewer } | null>(null);
  const [restoring, setRestoring] = useState(() => storedKey() != null);
  const [notice, setNotice] = useState<string | undefined>();

  // a reload keeps the tab's key: check it again, it may have been revoked meanwhile
  useEffect(() => {
    const key = storedKey();
    if (!key) return;
    void checkKey(key).then((r) => {
      if ('viewer' in r) setSignedIn({ key, viewer: r.viewer });
      else {
        forgetKey();
        setNotice(r.error);
      }
      setRestoring(false);
    });
  }, []);

  const session = useMemo<Session | null>(() => {
    if (!signedIn) return null;
    const client = createConsoleClient(signedIn.key);
    return {
      viewer: signedIn.viewer,
      client,
      can: (scope) => can(signedIn.viewer, scope),
      signOut: () => {
        forgetKey();
        setSignedIn(null);
      },
    };
  }, [signedIn]);

  useEffect(() => () => session?.client.dispose(), [session]);

  if (restoring) return <p class="muted centered">Signing in…</p>;
  if (!session)
    return (
      <SignIn
        notice={notice}
        onSignedIn={(key, viewer) => {
          saveKey(key);
          setSignedIn({ key, viewer });
        }}
      />
    );
  return (
    <SessionContext.Provider value={session}>
      <UrqlProvider value={session.client.urql}>
        <LocationProvider scope={BASE}>
          <Frame session={session} />
        </LocationProvider>
      </UrqlProvider>
    </SessionContext.Provider>
  );
}
