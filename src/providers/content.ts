/* Message-content helpers shared by the adapters whose wire formats need parts, data URLs or argument objects. */
import type { ChatMessage, ContentPart } from './types.js';

/** A message's parts; `content` counts as a text part unless the parts already carry the text. */
export function partsOf(m: ChatMessage): ContentPart[] {
  const parts = m.parts ?? [];
  if (m.content && !parts.some((p) => p.type === 'TEXT')) return [{ type: 'TEXT', text: m.content }, ...parts];
  return parts;
}

export function textOf(m: ChatMessage): string {
  return partsOf(m)
    .map((p) => (p.type === 'TEXT' ? p.text : ''))
    .join('');
}

/** Splits a data: URL into MIME type and base64 payload (percent-encoded payloads are re-encoded). */
export function parseDataUrl(url: string): { mimeType: string; base64: string } | undefined {
  const m = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s.exec(url);
  if (!m) return undefined;
  const mimeType = m[1] || 'application/octet-stream';
  const isBase64 = m[2].split(';').includes('base64');
  const base64 = isBase64 ? m[3] : Buffer.from(decodeURIComponent(m[3]), 'utf8').toString('base64');
  return { mimeType, base64 };
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Tool-call arguments as the object Anthropic and Gemini want; anything that is not a JSON object is wrapped. */
export function argumentsObject(args: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  try {
    const v = JSON.parse(args) as unknown;
    return isRecord(v) ? v : { value: v };
  } catch {
    return { value: args };
  }
}
