/*
 * One streamed call (chatStream or promptStream) driven from a page: started over the session's graphql-ws client,
 * its text growing chunk by chunk, time to first token and total time measured here in the browser, and a stop
 * that completes the subscription, which is what makes the gateway cancel the upstream request.
 */
import { stringifyDocument } from '@urql/core';
import type { TadaDocumentNode } from 'gql.tada';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useSession } from '../session';

/** What every streamed chunk carries, whichever field it came from. */
export interface StreamChunk {
  invocationId: string;
  delta: string;
  finishReason: string | null;
  usage: { promptTokens: number; completionTokens: number; totalTokens: number; costUsd: number } | null;
}

/** `waiting`: a call that does not stream (the chat mutation) is on its way. */
type RunPhase = 'idle' | 'waiting' | 'streaming' | 'done' | 'stopped' | 'failed';

export interface StreamRun {
  phase: RunPhase;
  text: string;
  chunks: number;
  invocationId?: string;
  finishReason?: string | null;
  usage?: StreamChunk['usage'];
  /** From start to the first chunk with text, measured in the browser */
  ttftMs?: number;
  /** From start to the last chunk (or to the stop) */
  totalMs?: number;
  error?: string;
}

const IDLE_RUN: StreamRun = { phase: 'idle', text: '', chunks: 0 };

interface FormattedError {
  message: string;
  extensions?: Record<string, unknown>;
}

/** The gateway's message and code, as every page shows errors. */
function describeErrors(errors: readonly FormattedError[]): string {
  return errors.map((e) => (e.extensions?.code ? `${e.message} (${String(e.extensions.code)})` : e.message)).join('; ');
}

function describeFailure(err: unknown): string {
  if (Array.isArray(err)) return describeErrors(err as FormattedError[]);
  if (err instanceof Error) return err.message;
  // a CloseEvent: the socket went away
  const close = err as { code?: number; reason?: string };
  return close.code ? `Connection closed (${close.code}${close.reason ? `: ${close.reason}` : ''})` : 'The stream failed';
}

export function useTokenStream() {
  const { client } = useSession();
  const [run, setRun] = useState<StreamRun>(IDLE_RUN);
  const active = useRef<(() => void) | null>(null);

  // leaving the page ends the call, as Stop does
  useEffect(() => () => active.current?.(), []);

  function start<Data, Vars extends Record<string, unknown>>(doc: TadaDocumentNode<Data, Vars>, variables: Vars, chunkOf: (data: Data) => StreamChunk) {
    active.current?.();
    const startedAt = performance.now();
    let current: StreamRun = { phase: 'streaming', text: '', chunks: 0 };
    // graphql-ws may still call a run's sink after it was stopped (its complete comes later): a run that is no
    // longer the active one changes nothing, neither the answer shown nor the next run's Stop
    let stopper: (() => void) | null = null;
    const isActive = () => active.current === stopper;
    const update = (next: StreamRun) => {
      current = next;
      if (isActive()) setRun(next);
    };
    update(current);
    const elapsed = () => Math.round(performance.now() - startedAt);
    const unsubscribe = client.ws.subscribe<Data>(
      { query: stringifyDocument(doc), variables },
      {
        next: (result) => {
          if (result.errors?.length) return update({ ...current, phase: 'failed', totalMs: elapsed(), error: describeErrors(result.errors) });
          if (!result.data) return;
          const chunk = chunkOf(result.data);
          const ttftMs = current.ttftMs ?? (chunk.delta ? elapsed() : undefined);
          const finished = chunk.finishReason != null;
          update({
            ...current,
            text: current.text + chunk.delta,
            chunks: current.chunks + 1,
            invocationId: chunk.invocationId,
            ttftMs,
            finishReason: chunk.finishReason,
            usage: chunk.usage ?? current.usage,
            phase: finished ? 'done' : 'streaming',
            totalMs: finished ? elapsed() : current.totalMs,
          });
        },
        error: (err) => update({ ...current, phase: 'failed', totalMs: elapsed(), error: describeFailure(err) }),
        complete: () => {
          if (!isActive()) return;
          active.current = null;
          if (current.phase === 'streaming') update({ ...current, phase: 'done', totalMs: current.totalMs ?? elapsed() });
        },
      },
    );
    stopper = () => {
      if (current.phase === 'streaming') update({ ...current, phase: 'stopped', totalMs: elapsed() });
      active.current = null;
      unsubscribe();
    };
    active.current = stopper;
  }

  return {
    run,
    start,
    stop: () => active.current?.(),
    /** Ends any run and clears the answer. */
    reset: () => {
      active.current?.();
      setRun(IDLE_RUN);
    },
    /** Shows a run that did not stream (the chat mutation's answer) in the same place. */
    show: (r: StreamRun) => {
      active.current?.();
      setRun(r);
    },
  };
}
