/* The Team node's ref, shared by the types that point at a team (ApiKey.team, PromptTemplate.team) and by teams.ts. */
import type { TeamRow } from '../db/schema.js';
import { forbidden } from '../errors.js';
import { readsTeam } from '../services/access.js';
import { builder } from './builder.js';
import { refused, uuidKey } from './global-id.js';

export const TeamRef = builder.nodeRef<TeamRow, string | null>('Team', {
  id: { resolve: (t) => t.id, parse: uuidKey },
  // as `teams`: ADMIN reads every team, a key of a team its own; another team is FORBIDDEN, whether it exists or not
  loadMany: (ids, ctx) =>
    (ids as string[]).map((id) =>
      readsTeam(ctx.principal!, id) ? ctx.loaders.team.load(id) : refused<TeamRow>(forbidden('This key may not access other teams')),
    ),
});
