/*
 * GRAPHQL_TRUSTED_DOCUMENTS: the manifest of the only documents a locked-down gateway runs, read once at start-up.
 * Two formats: Apollo's persisted query manifest (`generate-persisted-query-manifest`), and a plain
 * `{ "<id>": "<document>" }` map (graphql-codegen's client preset `persisted-documents.json`, Relay's persisted
 * queries file). Ids are taken as they are: Relay hashes with MD5 by default, the others with SHA-256, and a
 * client sends back whichever id its manifest gave it.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { z } from 'zod';

const APOLLO_FORMAT = 'apollo-persisted-query-manifest';

const apolloManifest = z.object({
  format: z.literal(APOLLO_FORMAT),
  version: z.literal(1),
  operations: z.array(
    z.object({
      id: z.string().min(1),
      body: z.string().min(1),
      name: z.string().optional(),
      type: z.enum(['query', 'mutation', 'subscription']).optional(),
    }),
  ),
});

const plainMap = z.record(z.string().min(1), z.string().min(1));

/** Why a manifest was refused; the caller adds which variable and file. */
export class TrustedDocumentsError extends Error {}

function issuesOf(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ');
}

/** id → document text, from a parsed manifest of either format. */
function entriesOf(json: unknown): Array<[string, string]> {
  if (json && typeof json === 'object' && !Array.isArray(json) && 'format' in json) {
    const manifest = apolloManifest.safeParse(json);
    if (!manifest.success) throw new TrustedDocumentsError(`is not an Apollo persisted query manifest (${issuesOf(manifest.error)})`);
    return manifest.data.operations.map((o) => [o.id, o.body]);
  }
  const map = plainMap.safeParse(json);
  if (!map.success) {
    throw new TrustedDocumentsError(
      `is neither an Apollo persisted query manifest ({"format":"${APOLLO_FORMAT}",…}) nor a {"<id>": "<document>"} map (${issuesOf(map.error)})`,
    );
  }
  return Object.entries(map.data);
}

/** Reads and checks the manifest: every document parses, an id names one document. Throws TrustedDocumentsError. */
export function readTrustedDocuments(path: string): ReadonlyMap<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TrustedDocumentsError(`cannot be read (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TrustedDocumentsError(`is not JSON (${(e as Error).message})`);
  }
  const documents = new Map<string, string>();
  for (const [id, body] of entriesOf(json)) {
    const earlier = documents.get(id);
    if (earlier !== undefined && earlier !== body) throw new TrustedDocumentsError(`gives the id "${id}" to two different documents`);
    try {
      parse(body);
    } catch (e) {
      throw new TrustedDocumentsError(`has a document that does not parse, id "${id}" (${(e as Error).message})`);
    }
    documents.set(id, body);
  }
  if (!documents.size) throw new TrustedDocumentsError('lists no documents');
  return documents;
}
