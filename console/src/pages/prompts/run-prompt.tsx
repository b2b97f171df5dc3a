/* Run a version with a value for each of its variables; the gateway fills the template and streams the answer (promptStream). */
import { useEffect, useId, useState } from 'preact/hooks';
import { StreamResult } from '../../components/stream-result';
import { useTokenStream } from '../../components/use-token-stream';
import { PromptStreamSubscription, type PromptVersion } from './queries';

export function RunPrompt({ versions }: { versions: PromptVersion[] }) {
  const [version, setVersion] = useState(versions[0].version);
  const [values, setValues] = useState<Record<string, string>>({});
  const stream = useTokenStream();
  const id = useId();
  useEffect(() => {
    setVersion(versions[0].version);
    stream.reset();
  }, [versions[0].name]);
  const prompt = versions.find((v) => v.version === version) ?? versions[0];
  const streaming = stream.run.phase === 'streaming';

  function run(e: Event) {
    e.preventDefault();
    // only this version's variables: the gateway refuses unknown ones
    const variables = Object.fromEntries(prompt.variables.map((v) => [v, values[v] ?? '']));
    stream.start(PromptStreamSubscription, { name: prompt.name, version: prompt.version, variables }, (d) => d.promptStream);
  }

  return (
    <section class="card run-prompt" aria-label="Run a version">
      <h2>Run a version</h2>
      <form class="run-form" onSubmit={run}>
        <div class="form-row">
          <div class="version-select">
            <label for={`${id}-version`}>Version to run</label>
            <select id={`${id}-version`} value={String(version)} disabled={streaming} onChange={(e) => setVersion(Number(e.currentTarget.value))}>
              {versions.map((v) => (
                <option key={v.id} value={String(v.version)}>
                  v{v.version} · {v.model}
                </option>
              ))}
            </select>
          </div>
        </div>
        {prompt.variables.length ? (
          <fieldset class="run-variables" disabled={streaming}>
            <legend>Variables</legend>
            <div class="form-row">
              {prompt.variables.map((v) => (
                <label key={v}>
                  {v}
                  <input value={values[v] ?? ''} onInput={(e) => setValues({ ...values, [v]: e.currentTarget.value })} />
                </label>
              ))}
            </div>
          </fieldset>
        ) : (
          <p class="muted small">This version has no variables.</p>
        )}
        <div class="run-actions">
          <button type="submit" class="primary" disabled={streaming}>
            Run
          </button>
          <button type="button" class="danger" disabled={!streaming} onClick={stream.stop}>
            Stop
          </button>
        </div>
      </form>
      <StreamResult run={stream.run} emptyHint="Fill the variables and press Run: the gateway fills the template and streams the answer here." />
    </section>
  );
}
