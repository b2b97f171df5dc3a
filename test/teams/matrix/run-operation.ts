/*
 * Runs matrix operations as a principal and says what happened: the codes it was refused with, an empty answer,
 * data (filtered to what the principal may see), and any of B's marker, ids or secrets found in the answer.
 */
import type { Client } from 'graphql-ws';
import type { TestGateway } from '../../kit/start-gateway.js';
import type { LeakDetector } from './leak-detector.js';
import type { MatrixOperation } from './operations.js';

export interface Outcome {
  op: MatrixOperation;
  principal: string;
  /** `refused:CODE`, `empty`, `data`, `no event` (a subscription that saw nothing in its window). */
  result: string;
  leaks: string[];
  /** The (last) answer, for comparing what a principal sees before and after B acts. */
  answer?: unknown;
}

/** A principal of the matrix: its key, and the fields it was refused inside answers (left out of its selections). */
export interface Principal {
  name: string;
  key: string;
  hidden: Set<string>;
}

interface Answer {
  data?: Record<string, unknown> | null;
  errors?: ReadonlyArray<{ message: string; path?: ReadonlyArray<string | number>; extensions?: Record<string, unknown> }>;
}

/** Where an error path points (`Type.field`, below the root field), or null for the root field itself. */
export type Locate = (root: MatrixOperation['root'], path: ReadonlyArray<string | number>) => string | null;

/** Tries to take out refused inner fields, so one refused field does not null the rest of the answer. */
const MAX_ATTEMPTS = 6;

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object' && 'edges' in value) return isEmpty((value as { edges: unknown }).edges);
  return false;
}

function resultOf(op: MatrixOperation, answers: Answer[]): string {
  const codes = [...new Set(answers.flatMap((a) => a.errors ?? []).map((e) => String(e.extensions?.code ?? 'NO_CODE')))];
  const values = answers.map((a) => a.data?.[op.field]);
  if (values.some((v) => !isEmpty(v))) return codes.length ? `data+refused:${codes.join('|')}` : 'data';
  if (codes.length) return `refused:${codes.join('|')}`;
  return answers.length ? 'empty' : 'no event';
}

/**
 * Runs the operation, and again without the inner fields it was refused (they are remembered for the principal);
 * every answer is searched for leaks, the last one says what happened.
 */
export async function runOverHttp(gw: TestGateway, op: MatrixOperation, who: Principal, detect: LeakDetector, locate: Locate): Promise<Outcome> {
  const leaks = new Set<string>();
  for (let attempt = 1; ; attempt++) {
    const res = await gw.gql(op.hidden(who.hidden), op.variables, who.key);
    const answer: Answer = { data: res.data, errors: res.errors };
    for (const l of detect(answer, op.variables)) leaks.add(l);
    if (res.status >= 500) return { op, principal: who.name, result: `HTTP ${res.status}`, leaks: [...leaks] };
    const inner = (res.errors ?? []).map((e) => (e.path ? locate(op.root, e.path) : null)).filter((c): c is string => !!c && !who.hidden.has(c));
    if (!inner.length || attempt === MAX_ATTEMPTS) return { op, principal: who.name, result: resultOf(op, [answer]), leaks: [...leaks], answer };
    for (const c of inner) who.hidden.add(c);
  }
}

/** A subscription held open until `stop` settles (or it ends by itself); everything it was sent is judged. */
export function runSubscription(client: Client, op: MatrixOperation, who: Principal, stop: Promise<void>, detect: LeakDetector): Promise<Outcome> {
  const principal = who.name;
  return new Promise((resolve) => {
    const answers: Answer[] = [];
    let done = false;
    const finish = (extra?: Answer) => {
      if (done) return;
      done = true;
      if (extra) answers.push(extra);
      dispose();
      resolve({ op, principal, result: resultOf(op, answers), leaks: detect(answers, op.variables) });
    };
    const dispose = client.subscribe(
      { query: op.hidden(who.hidden), variables: op.variables },
      {
        next: (r) => void answers.push(r as Answer),
        // graphql-ws hands over the GraphQL errors of a refused operation, or the socket's close event
        error: (e) => finish(Array.isArray(e) ? { errors: e } : { errors: [{ message: closeMessage(e), extensions: { code: 'SOCKET_CLOSED' } }] }),
        complete: () => finish(),
      },
    );
    void stop.then(() => finish());
  });
}

function closeMessage(e: unknown): string {
  const close = e as { code?: number; reason?: string; message?: string };
  return close.code ? `socket closed ${close.code} ${close.reason ?? ''}` : String(close.message ?? e);
}
