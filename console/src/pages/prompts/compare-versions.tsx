/* Two versions of a prompt side by side: pick A and B; lines only one side has are marked (− removed in B, + added in B). */
import { useEffect, useId, useState } from 'preact/hooks';
import { formatTime } from '../../format';
import { diffLines, type LineMark } from './line-diff';
import type { PromptVersion } from './queries';

/** A version as lines: every message's role, then its text line by line, so a role change is a changed line too. */
function toLines(p: PromptVersion): Array<{ role: string; text: string; key: string }> {
  return p.messages.flatMap((m, i) =>
    m.content.split('\n').map((text) => ({ role: m.role, text, key: `${i}\u0000${m.role}\u0000${text}` })),
  );
}

const SIGN: Record<LineMark, string> = { same: ' ', removed: '−', added: '+' };

function VersionColumn({ side, prompt, other, marks }: { side: 'A' | 'B'; prompt: PromptVersion; other: PromptVersion; marks: LineMark[] }) {
  const lines = toLines(prompt);
  let lineAt = 0;
  return (
    <article class="version-column" aria-label={`Version ${side}: v${prompt.version}`}>
      <header class="version-head">
        <strong>
          {side} · v{prompt.version}
        </strong>
        <span class={prompt.model === other.model ? 'muted' : 'changed'} title="Model">
          {prompt.model}
        </span>
        <span class="muted small">{formatTime(prompt.createdAt)}</span>
      </header>
      <div class="version-vars">
        {prompt.variables.length ? prompt.variables.map((v) => <code key={v} class="badge">{`{{${v}}}`}</code>) : <span class="muted small">no variables</span>}
      </div>
      {prompt.messages.map((m, i) => (
        <section class="version-message" key={i}>
          <div class="version-role">{m.role.toLowerCase()}</div>
          {m.content.split('\n').map((_, k) => {
            const at = lineAt++;
            return (
              <div key={k} class={`diff-line ${marks[at]}`} data-mark={marks[at]}>
                <span class="diff-sign" aria-hidden="true">
                  {SIGN[marks[at]]}
                </span>
                <span class="diff-text">{lines[at].text || '\u00a0'}</span>
              </div>
            );
          })}
        </section>
      ))}
    </article>
  );
}

function VersionSelect({ label, value, versions, onChange }: { label: string; value: number; versions: PromptVersion[]; onChange: (v: number) => void }) {
  const id = useId();
  return (
    <div class="version-select">
      <label for={id}>{label}</label>
      <select id={id} value={String(value)} onChange={(e) => onChange(Number(e.currentTarget.value))}>
        {versions.map((v) => (
          <option key={v.id} value={String(v.version)}>
            v{v.version}
          </option>
        ))}
      </select>
    </div>
  );
}

/** `versions` newest first: B starts at the newest, A at the one before it. */
export function CompareVersions({ versions }: { versions: PromptVersion[] }) {
  const [a, setA] = useState(versions[1]?.version ?? versions[0].version);
  const [b, setB] = useState(versions[0].version);
  // another prompt, or a new version of this one: start again from its two newest
  useEffect(() => {
    setA(versions[1]?.version ?? versions[0].version);
    setB(versions[0].version);
  }, [versions[0].id]);
  const pa = versions.find((v) => v.version === a) ?? versions[0];
  const pb = versions.find((v) => v.version === b) ?? versions[0];
  const marks = diffLines(
    toLines(pa).map((l) => l.key),
    toLines(pb).map((l) => l.key),
  );
  return (
    <section class="card" aria-label="Compare versions">
      <div class="card-head">
        <h2>Compare versions</h2>
        <div class="form-row">
          <VersionSelect label="Version A" value={pa.version} versions={versions} onChange={setA} />
          <VersionSelect label="Version B" value={pb.version} versions={versions} onChange={setB} />
        </div>
      </div>
      {versions.length === 1 ? <p class="muted small">Only one version so far: create another to compare.</p> : null}
      <div class="compare">
        <VersionColumn side="A" prompt={pa} other={pb} marks={marks.a} />
        <VersionColumn side="B" prompt={pb} other={pa} marks={marks.b} />
      </div>
    </section>
  );
}
