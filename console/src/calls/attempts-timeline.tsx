/*
 * A call's attempts on one time axis: a bar per attempt from its start for its duration, the retry wait before it
 * hatched, the moment the upstream's headers came (TTFB) as a tick, coloured by how the attempt ended.
 * Positions are percentages set through the style property (CSSOM), which the console's CSP allows.
 */
import { formatMs } from '../format';
import type { CallAttempt } from './documents';
import { layoutTimeline, type AttemptLane } from './timeline-layout';
import './attempts-timeline.css';

const OUTCOME_TONE: Record<CallAttempt['outcome'], string> = { OK: 'ok', ERROR: 'bad', TIMEOUT: 'warn', CANCELLED: 'off' };

/** "HTTP 500 ERROR", or the outcome alone when no response came */
const attemptResult = (a: CallAttempt) => (a.status == null ? a.outcome : `HTTP ${a.status} ${a.outcome}`);

/** What the bar says to a screen reader (and in its tooltip): everything the picture shows */
function describe(a: CallAttempt): string {
  const parts = [`Attempt ${a.attempt}`, `${a.provider} ${a.upstreamModel}`, attemptResult(a), `starts at ${formatMs(a.startMs)}`];
  if (a.waitMs > 0) parts.push(`after a retry wait of ${formatMs(a.waitMs)}`);
  parts.push(a.durationMs == null ? 'no recorded end' : `took ${formatMs(a.durationMs)}`);
  if (a.ttfbMs != null) parts.push(`TTFB ${formatMs(a.ttfbMs)}`);
  return parts.join(', ');
}

function Lane({ lane, ticks }: { lane: AttemptLane; ticks: number[] }) {
  const a = lane.attempt;
  const tone = OUTCOME_TONE[a.outcome];
  const timing = [
    `at ${formatMs(a.startMs)}`,
    a.waitMs > 0 ? `waited ${formatMs(a.waitMs)}` : null,
    a.durationMs == null ? 'no end recorded' : `took ${formatMs(a.durationMs)}`,
    a.ttfbMs != null ? `TTFB ${formatMs(a.ttfbMs)}` : null,
  ].filter(Boolean);
  return (
    <li class={`lane ${tone}`} data-attempt={a.attempt}>
      <div class="lane-label">
        <div class="lane-title">
          <span class="lane-no">#{a.attempt}</span>
          <span class="mono" title={`model ${a.model}`}>
            {a.provider} · {a.upstreamModel}
          </span>
        </div>
        <div class="lane-meta">
          <span class={`badge ${tone}`} data-testid="attempt-result">
            {attemptResult(a)}
          </span>
          <span class="muted small">{timing.join(' · ')}</span>
        </div>
        {a.error ? (
          <div class="lane-error small" data-testid="attempt-error">
            {a.error}
          </div>
        ) : null}
      </div>
      <div class="lane-track">
        {ticks.map((at) => (
          <div key={at} class="lane-grid" style={{ left: `${at}%` }} />
        ))}
        {lane.wait.width > 0 ? <div class="lane-wait" title={`Retry wait ${formatMs(a.waitMs)}`} style={{ left: `${lane.wait.left}%`, width: `${lane.wait.width}%` }} /> : null}
        <div
          class={`lane-bar ${tone}${lane.bar.open ? ' open' : ''}`}
          role="img"
          data-testid="attempt-bar"
          aria-label={describe(a)}
          title={describe(a)}
          style={{ left: `${lane.bar.left}%`, width: `${lane.bar.width}%` }}
        />
        {lane.ttfb != null ? <div class="lane-ttfb" title={`TTFB ${formatMs(a.ttfbMs)}`} style={{ left: `${lane.ttfb}%` }} /> : null}
      </div>
    </li>
  );
}

export function AttemptsTimeline({ attempts, totalMs }: { attempts: readonly CallAttempt[]; totalMs?: number | null }) {
  if (attempts.length === 0) return <p class="muted">No upstream attempt: the call ended before reaching a provider (a guardrail, a limit, the cache).</p>;
  const layout = layoutTimeline(attempts, totalMs);
  return (
    <div class="timeline">
      <ol class="timeline-lanes" aria-label="Attempts timeline">
        {layout.lanes.map((lane) => (
          <Lane key={lane.attempt.attempt} lane={lane} ticks={layout.ticks.slice(1).map((t) => t.at)} />
        ))}
      </ol>
      <div class="timeline-axis" aria-hidden="true">
        <div />
        <div class="axis-track">
          {layout.ticks.map((t) => (
            <span key={t.ms} class={t.at > 92 ? 'axis-tick end' : 'axis-tick'} style={{ left: `${t.at}%` }}>
              {formatMs(t.ms)}
            </span>
          ))}
        </div>
      </div>
      <ul class="timeline-legend small muted" aria-label="Legend">
        <li>
          <i class="swatch ok" /> OK
        </li>
        <li>
          <i class="swatch bad" /> Error
        </li>
        <li>
          <i class="swatch warn" /> Timeout
        </li>
        <li>
          <i class="swatch off" /> Cancelled
        </li>
        <li>
          <i class="swatch wait" /> Retry wait
        </li>
        <li>
          <i class="swatch ttfb" /> First byte (TTFB)
        </li>
      </ul>
    </div>
  );
}
