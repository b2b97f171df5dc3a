/*
 * One call from the call log (/calls/<id>, an invocation id or a request id): its ids, outcome, parameters, the
 * attempts timeline, and for a FULL call the request's messages and the answer, shown as text.
 */
import { useQuery } from '@urql/preact';
import { ErrorNote } from '../components/error-note';
import { Page } from '../components/page';
import { StatusBadge } from '../components/status-badge';
import { AttemptsTimeline } from '../calls/attempts-timeline';
import { RequestBody, ResponseBody } from '../calls/call-bodies';
import { CallAttemptFields, CallDetailsQuery, type CallDetails } from '../calls/documents';
import { formatInt, formatMs, formatTime, formatUsd } from '../format';
import { readFragment } from '../graphql';
import { BASE } from '../nav';
import './calls.css';

type Row = [label: string, value: string, mono?: boolean];

function summaryRows(c: CallDetails): Row[] {
  const u = c.usageRecord;
  return [
    ['Time', formatTime(c.createdAt)],
    ['Model', c.model, true],
    ['Provider', u?.provider ? `${u.provider} · ${u.upstreamModel ?? '?'}` : '–', true],
    ['Key', c.apiKey ? `${c.apiKey.name} (${c.apiKey.prefix}…)` : '–'],
    ['Error code', u?.errorCode ?? '–'],
    ['Streamed', u == null ? '–' : u.streamed ? 'yes' : 'no'],
    ['Latency', formatMs(u?.latencyMs)],
    ['Time to first token', formatMs(u?.ttftMs)],
    ['Tokens', u ? `${formatInt(u.promptTokens)} in · ${formatInt(u.completionTokens)} out` : '–'],
    ['Cost', formatUsd(u?.costUsd)],
  ];
}

function idRows(c: CallDetails): Row[] {
  return [
    ['Invocation id', c.id, true],
    ['Request id', c.requestId ?? '–', true],
    ['Trace id', c.traceId ?? '– (tracing off)', true],
  ];
}

function Rows({ rows, label }: { rows: Row[]; label: string }) {
  return (
    <dl class="kv" aria-label={label}>
      {rows.map(([k, v, mono]) => [
        <dt key={`${k}-t`}>{k}</dt>,
        <dd key={`${k}-d`} class={mono ? 'mono' : undefined}>
          {v}
        </dd>,
      ])}
    </dl>
  );
}

const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

function Parameters({ parameters }: { parameters: unknown }) {
  if (parameters == null) return <p class="muted">None recorded.</p>;
  if (typeof parameters !== 'object' || Array.isArray(parameters)) return <pre class="metadata">{JSON.stringify(parameters, null, 2)}</pre>;
  const entries = Object.entries(parameters).filter(([, v]) => v != null);
  if (entries.length === 0) return <p class="muted">Defaults only.</p>;
  return <Rows label="Parameters" rows={entries.map(([k, v]): Row => [k, show(v), true])} />;
}

function Bodies({ call }: { call: CallDetails }) {
  if (call.level !== 'FULL') {
    return (
      <div class="card muted" role="note" aria-label="Why no messages">
        Logged at METADATA: the messages and the answer were not kept. METADATA is the lowest level set on the key, its team or the model; to keep
        them in later calls, raise it to FULL where it is set (or clear it there, when another of them is FULL).
      </div>
    );
  }
  return (
    <>
      {call.truncated ? (
        <p class="notice warn-notice" role="note">
          The bodies were {formatInt(call.bodyBytes)} bytes, over the call log's limit: the message texts below were cut.
        </p>
      ) : null}
      <div class="call-bodies">
        <RequestBody request={call.request} />
        <ResponseBody response={call.response} ended={call.usageRecord?.errorCode ? `${call.status} (${call.usageRecord.errorCode})` : call.status} />
      </div>
    </>
  );
}

export function CallDetailsPage({ id }: { id?: string }) {
  const [result] = useQuery({ query: CallDetailsQuery, variables: { id: id ?? '' }, pause: !id });
  const call = result.data?.invocation;
  const back = (
    <a class="button-link" href={`${BASE}/calls`}>
      ← All calls
    </a>
  );
  return (
    <Page title="Call" actions={back}>
      <ErrorNote error={result.error} />
      {result.fetching && !result.data ? <p class="muted">Loading…</p> : null}
      {result.data && !call ? (
        <div class="card empty muted">
          <p>No logged call with this id that this key may see.</p>
          <p>A call is logged only when its key, the key's team and the model allow it (a level other than NONE).</p>
        </div>
      ) : null}
      {call ? (
        <>
          <div class="call-head">
            <StatusBadge status={call.status} />
            <span class={`badge level-${call.level.toLowerCase()}`}>{call.level}</span>
            <span class="mono call-title">{call.model}</span>
            <span class="muted">{formatTime(call.createdAt)}</span>
          </div>
          <div class="grid call-facts">
            <section class="card" aria-label="Summary">
              <h2>Summary</h2>
              <Rows label="Call summary" rows={summaryRows(call)} />
            </section>
            <section class="card" aria-label="Identifiers">
              <h2>Identifiers</h2>
              <Rows label="Call ids" rows={idRows(call)} />
              <h2 class="card-subhead">Parameters</h2>
              <Parameters parameters={call.parameters} />
            </section>
          </div>
          <section class="card" aria-label="Attempts">
            <h2>
              Attempts <span class="muted small">({formatInt(call.attempts.length)})</span>
            </h2>
            <AttemptsTimeline attempts={readFragment(CallAttemptFields, call.attempts)} totalMs={call.usageRecord?.latencyMs} />
          </section>
          <Bodies call={call} />
        </>
      ) : null}
    </Page>
  );
}
