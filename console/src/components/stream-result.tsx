/* A call's answer as it streams in, with what it cost: tokens, USD, time to first token and total time. */
import { formatInt, formatMs, formatUsd } from '../format';
import { ErrorNote } from './error-note';
import type { StreamRun } from './use-token-stream';
import './stream-result.css';

const PHASE_LABEL: Record<StreamRun['phase'], { text: string; tone: string }> = {
  idle: { text: 'Ready', tone: '' },
  waiting: { text: 'Waiting for the answer…', tone: 'warn' },
  streaming: { text: 'Streaming…', tone: 'warn' },
  done: { text: 'Finished', tone: 'ok' },
  stopped: { text: 'Stopped', tone: 'warn' },
  failed: { text: 'Failed', tone: 'bad' },
};

function Figure({ label, value }: { label: string; value: string }) {
  return (
    <div class="run-figure">
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

export function StreamResult({ run, emptyHint }: { run: StreamRun; emptyHint: string }) {
  const phase = PHASE_LABEL[run.phase];
  return (
    <div class="stream-result">
      <div class="run-status">
        <span class={`badge ${phase.tone}`} data-testid="run-status">
          {phase.text}
        </span>
        {run.finishReason ? <span class="muted small">finish: {run.finishReason}</span> : null}
        {run.invocationId ? (
          <span class="muted small mono" title="The usage record's invocationId">
            {run.invocationId}
          </span>
        ) : null}
      </div>
      <pre class="stream-output" aria-label="Output" aria-live="polite" aria-busy={run.phase === 'streaming' || run.phase === 'waiting'} data-testid="output">
        {run.text || (run.phase === 'idle' ? <span class="muted">{emptyHint}</span> : null)}
      </pre>
      <ErrorNote error={run.error} />
      <dl class="run-figures" aria-label="Call figures">
        <Figure label="Prompt tokens" value={formatInt(run.usage?.promptTokens)} />
        <Figure label="Completion tokens" value={formatInt(run.usage?.completionTokens)} />
        <Figure label="Cost" value={formatUsd(run.usage?.costUsd)} />
        <Figure label="First token" value={formatMs(run.ttftMs)} />
        <Figure label="Total time" value={formatMs(run.totalMs)} />
        <Figure label="Chunks" value={formatInt(run.chunks || null)} />
      </dl>
    </div>
  );
}
