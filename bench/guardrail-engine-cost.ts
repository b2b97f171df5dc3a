/*
 * The guardrail engine alone (src/guardrails), in the bench's own process: a policy's input rules over a whole prompt,
 * and its output rules over the same text streamed in 20-character chunks through the stream filters. Reported as
 * microseconds per KB of text; part of `npm run bench:layers`.
 */
import { guardInput, outputFilters, type GuardRun } from '../src/guardrails/guard.js';
import { compilePolicy } from '../src/guardrails/policy.js';
import { Redactions } from '../src/guardrails/redactions.js';

const newRun = (): GuardRun => ({ redactions: new Redactions(), note: () => {} });

/** Runs `fn` until at least `ms` have passed (after one warm-up call); microseconds per call. */
function usPerCall(fn: () => void, ms = 1000): number {
  fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    fn();
    n++;
  }
  return ((performance.now() - t0) * 1000) / n;
}

/** The whole policy, then its PII rule alone (the common case), then its deny list alone. */
export async function measureEngine(rules: Record<string, unknown>, textOfKb: (kb: number) => string): Promise<string[]> {
  const lines: string[] = [];
  for (const [label, part] of [['whole policy', rules], ['PII rule only', { pii: rules.pii }], ['deny list only', { denyList: rules.denyList }]] as const) {
    lines.push(`${label}:`, ...measureRules(part, textOfKb));
  }
  return lines;
}

function measureRules(rules: Record<string, unknown>, textOfKb: (kb: number) => string): string[] {
  const pii = rules.pii as Record<string, unknown> | undefined;
  // restore belongs to input rules only
  const output = pii ? { ...rules, pii: { ...pii, restore: false } } : rules;
  const policy = compilePolicy({ id: 'bench', name: 'bench', input: rules, output });
  const lines: string[] = [];
  for (const kb of [1, 16, 256]) {
    const text = textOfKb(kb);
    const messages = [{ role: 'USER' as const, content: text }];
    const input = usPerCall(() => void guardInput([policy], messages, newRun()));
    const stream = usPerCall(() => {
      const filters = outputFilters([policy], newRun());
      for (let i = 0; i < text.length; i += 20) {
        let piece = text.slice(i, i + 20);
        for (const f of filters) piece = f.write(piece);
      }
      for (const f of filters) f.end();
    });
    lines.push(`${String(kb).padStart(3)} KB  input rules ${(input / kb).toFixed(1).padStart(7)} µs/KB   output rules, streamed in 20-char chunks ${(stream / kb).toFixed(1).padStart(7)} µs/KB`);
  }
  return lines;
}
