/* Who is signed in: the key, what `viewer` says it may do, and the client that carries it. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { ConsoleClient } from './client';
import type { ResultOf } from './graphql';
import type { ViewerQuery } from './viewer';

export type Viewer = ResultOf<typeof ViewerQuery>['viewer'];
export type Scope = Viewer['scopes'][number];

export interface Session {
  viewer: Viewer;
  client: ConsoleClient;
  /** ADMIN may do everything; the other scopes only what they name. */
  can(scope: Scope): boolean;
  signOut(): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in console');
  return session;
}
