/*
 * A FULL call's bodies as people read them: the request's messages one by one, then the answer, then whatever
 * else the request or answer held as JSON text. Everything is text nodes (never markup), so a message holding
 * HTML shows as the characters it is.
 */
import type { ComponentChildren } from 'preact';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const pretty = (v: unknown) => JSON.stringify(v, null, 2);

/** What a tool call reads as: `name(arguments)` */
function toolCallText(call: unknown): string {
  if (!isObject(call)) return pretty(call);
  return `${String(call.name ?? '?')}(${typeof call.arguments === 'string' ? call.arguments : pretty(call.arguments ?? '')})`;
}

/** A content part: its text, or a note naming an image (a data: URL is not printed whole) */
function partText(part: unknown): string {
  if (!isObject(part)) return pretty(part);
  if (typeof part.text === 'string') return part.text;
  if (typeof part.imageUrl === 'string') return `[image ${part.imageUrl.startsWith('data:') ? `${part.imageUrl.slice(0, 40)}…` : part.imageUrl}]`;
  return pretty(part);
}

function Message({ message, index }: { message: unknown; index: number }) {
  if (!isObject(message)) return <pre class="call-text">{pretty(message)}</pre>;
  const role = String(message.role ?? 'message').toLowerCase();
  const texts: string[] = [];
  if (typeof message.content === 'string') texts.push(message.content);
  if (Array.isArray(message.parts)) texts.push(...message.parts.map(partText));
  const calls = Array.isArray(message.toolCalls) ? message.toolCalls : [];
  return (
    <li class={`call-message role-${role.replace(/[^a-z]/g, '')}`} data-testid="call-message">
      <div class="call-message-head">
        <span class="call-role">{role}</span>
        {typeof message.name === 'string' ? <span class="muted small">{message.name}</span> : null}
        {typeof message.toolCallId === 'string' ? <span class="muted small mono">answers {message.toolCallId}</span> : null}
        <span class="muted small call-message-no">#{index + 1}</span>
      </div>
      {texts.length ? <pre class="call-text">{texts.join('\n')}</pre> : null}
      {calls.map((c, i) => (
        <pre key={i} class="call-text tool-call">
          {toolCallText(c)}
        </pre>
      ))}
    </li>
  );
}

function Section({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <section class="card call-section" aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

/** The fields of an object other than the ones already shown, as JSON text; nothing when none are left */
function Rest({ value, shown, label }: { value: Json; shown: string[]; label: string }) {
  const rest = Object.fromEntries(Object.entries(value).filter(([k, v]) => !shown.includes(k) && v != null));
  if (Object.keys(rest).length === 0) return null;
  return (
    <details class="call-rest">
      <summary>{label}</summary>
      <pre class="metadata">{pretty(rest)}</pre>
    </details>
  );
}

export function RequestBody({ request }: { request: unknown }) {
  if (!isObject(request) || !Array.isArray(request.messages)) {
    return (
      <Section title="Request">
        <pre class="metadata">{pretty(request)}</pre>
      </Section>
    );
  }
  return (
    <Section title={`Request · ${request.messages.length} message${request.messages.length === 1 ? '' : 's'}`}>
      <ol class="call-messages">
        {request.messages.map((m, i) => (
          <Message key={i} message={m} index={i} />
        ))}
      </ol>
      <Rest value={request} shown={['messages']} label="Other request fields (tools, options)" />
    </Section>
  );
}

/** The answer; `ended` says how the call ended, for a call that has none */
export function ResponseBody({ response, ended }: { response: unknown; ended: string }) {
  if (response == null) {
    return (
      <Section title="Answer">
        <p class="muted">No answer: the call ended {ended}.</p>
      </Section>
    );
  }
  if (!isObject(response) || !('content' in response || 'toolCalls' in response)) {
    return (
      <Section title="Answer">
        <pre class="metadata">{pretty(response)}</pre>
      </Section>
    );
  }
  const calls = Array.isArray(response.toolCalls) ? response.toolCalls : [];
  return (
    <Section title="Answer">
      {typeof response.finishReason === 'string' ? <p class="muted small">Finish reason: {response.finishReason}</p> : null}
      {typeof response.content === 'string' ? (
        <pre class="call-text call-answer" data-testid="call-answer">
          {response.content}
        </pre>
      ) : calls.length ? null : (
        <p class="muted">No text.</p>
      )}
      {calls.map((c, i) => (
        <pre key={i} class="call-text tool-call">
          {toolCallText(c)}
        </pre>
      ))}
      <Rest value={response} shown={['content', 'toolCalls', 'finishReason']} label="Usage and other answer fields" />
    </Section>
  );
}
