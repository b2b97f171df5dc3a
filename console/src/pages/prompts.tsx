/*
 * Prompts: the templates this key may run, grouped by name; two versions of one side by side with the lines that
 * differ marked; a version run with its variables, streamed (promptStream fills the template on the server); and,
 * for ADMIN, a new prompt or a new version.
 */
import { useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { ErrorNote } from '../components/error-note';
import { Page } from '../components/page';
import { useSession } from '../session';
import { CompareVersions } from './prompts/compare-versions';
import { CreatePrompt } from './prompts/create-prompt';
import { PromptsQuery, type PromptVersion } from './prompts/queries';
import { RunPrompt } from './prompts/run-prompt';
import './prompts.css';

/** Versions by name, newest first, in the order the names first appear. */
function byName(prompts: PromptVersion[]): Map<string, PromptVersion[]> {
  const groups = new Map<string, PromptVersion[]>();
  for (const p of prompts) groups.set(p.name, [...(groups.get(p.name) ?? []), p]);
  for (const versions of groups.values()) versions.sort((x, y) => y.version - x.version);
  return groups;
}

function PromptList({ groups, selected, onSelect }: { groups: Map<string, PromptVersion[]>; selected: string | null; onSelect: (name: string) => void }) {
  return (
    <ul class="prompt-list card" aria-label="Prompt templates">
      {[...groups].map(([name, versions]) => (
        <li key={name}>
          <button type="button" aria-pressed={name === selected} onClick={() => onSelect(name)}>
            <span class="prompt-name">{name}</span>
            <span class="muted small">
              {versions.length} {versions.length === 1 ? 'version' : 'versions'} · {versions[0].model}
            </span>
          </button>
        </li>
      ))}
    </ul>
  );
}

export function PromptsPage() {
  const session = useSession();
  const isAdmin = session.can('ADMIN');
  const [{ data, fetching, error }, refetch] = useQuery({ query: PromptsQuery });
  const [selected, setSelected] = useState<string | null>(null);
  const [creating, setCreating] = useState<'prompt' | 'version' | null>(null);
  const groups = byName(data?.prompts ?? []);
  const name = selected != null && groups.has(selected) ? selected : ([...groups.keys()][0] ?? null);
  const versions = name ? groups.get(name)! : null;

  const actions = isAdmin ? (
    <>
      {versions ? (
        <button type="button" onClick={() => setCreating('version')} disabled={creating != null}>
          New version
        </button>
      ) : null}
      <button type="button" class="primary" onClick={() => setCreating('prompt')} disabled={creating != null}>
        New prompt
      </button>
    </>
  ) : null;

  return (
    <Page title="Prompts" actions={actions}>
      <ErrorNote error={error} />
      {fetching && !data ? <p class="muted">Loading prompts…</p> : null}
      {creating ? (
        <CreatePrompt
          key={creating}
          base={creating === 'version' ? (versions?.[0] ?? null) : null}
          onCancel={() => setCreating(null)}
          onCreated={(created) => {
            setCreating(null);
            setSelected(created);
            refetch({ requestPolicy: 'network-only' });
          }}
        />
      ) : null}
      {!fetching && data && groups.size === 0 ? (
        <p class="notice">
          {isAdmin
            ? 'No prompt templates yet. Create one with New prompt: messages with {{variables}}, bound to a model.'
            : 'No prompt templates this key may run. An ADMIN creates them; a key sees those whose model it may invoke.'}
        </p>
      ) : null}
      {versions ? (
        <div class="prompts">
          <PromptList groups={groups} selected={name} onSelect={setSelected} />
          <div class="prompt-detail">
            <CompareVersions versions={versions} />
            <RunPrompt versions={versions} />
          </div>
        </div>
      ) : null}
    </Page>
  );
}
