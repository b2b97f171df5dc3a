/*
 * application/vnd.amazon.eventstream framing: bytes as they arrive → whole messages, each decoded (CRCs checked,
 * headers parsed) by @smithy/eventstream-codec. A message may arrive split over any number of TCP chunks, and
 * one chunk may hold several messages.
 */
import type { EventStreamCodec, Message } from '@smithy/eventstream-codec';
import { lazyRequire } from '../../util/lazy-require.js';
import { UpstreamError } from '../types.js';
import { PROVIDER } from './errors.js';

/** Loaded with the first Bedrock stream: other deployments never load it. */
const eventStreamCodec = lazyRequire<typeof import('@smithy/eventstream-codec')>('@smithy/eventstream-codec');
export const smithyUtf8 = lazyRequire<typeof import('@smithy/util-utf8')>('@smithy/util-utf8');
let codecOnce: EventStreamCodec | undefined;
const codec = () => (codecOnce ??= new (eventStreamCodec().EventStreamCodec)(smithyUtf8().toUtf8, smithyUtf8().fromUtf8));

/** Prelude (total length, headers length, prelude CRC) + message CRC. */
const MIN_MESSAGE_BYTES = 16;
/** The format caps a message at 16 MiB of payload plus 128 KiB of headers; anything larger is garbage. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024 + 128 * 1024 + MIN_MESSAGE_BYTES;

function malformed(why: string, cause?: unknown): UpstreamError {
  return new UpstreamError({ provider: PROVIDER, message: `${PROVIDER} sent a malformed event stream (${why})`, retryable: true, cause });
}

/**
 * Yields each message as soon as its last byte has arrived. A stream ending inside a message is left to the
 * caller (it sees no messageStop and reports the cut).
 * @see https://smithy.io/2.0/aws/amazon-eventstream.html (the message layout: prelude, headers, payload, CRCs)
 */
export async function* eventStreamMessages(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Message> {
  let buf: Uint8Array = new Uint8Array(0);
  for await (const chunk of chunks) {
    buf = buf.length ? concat(buf, chunk) : chunk;
    while (buf.length >= 4) {
      const total = new DataView(buf.buffer, buf.byteOffset, 4).getUint32(0, false);
      if (total < MIN_MESSAGE_BYTES || total > MAX_MESSAGE_BYTES) throw malformed(`message length ${total}`);
      if (buf.length < total) break;
      let message: Message;
      try {
        message = codec().decode(buf.subarray(0, total));
      } catch (e) {
        throw malformed(e instanceof Error ? e.message : 'undecodable message', e);
      }
      buf = buf.subarray(total);
      yield message;
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** A string header's value (`:event-type`, `:message-type`, …). */
export function headerString(message: Message, name: string): string | undefined {
  const h = message.headers[name];
  return h && h.type === 'string' ? h.value : undefined;
}
