/* The reasoning blocks of a streamed Responses answer, reassembled for the stored conversation (sent back on the next turn). */
import { describe, expect, it } from 'vitest';
import { reasoningCollector } from '../../src/http/rest/responses/reasoning.js';

describe('reasoningCollector', () => {
  it('joins deltas into a block, closes it at its signature, keeps redacted blocks whole', () => {
    const c = reasoningCollector();
    c.add({ delta: 'Let me ' });
    c.add({ delta: 'think.' });
    c.add({ signature: 'sig-1' });
    c.add({ redactedData: 'opaque==' });
    c.add({ delta: 'Again.' });
    c.add({ signature: 'sig-2' });
    expect(c.blocks()).toEqual([
      { text: 'Let me think.', signature: 'sig-1' },
      { text: '', redactedData: 'opaque==' },
      { text: 'Again.', signature: 'sig-2' },
    ]);
  });

  it('an empty signature closes an unsigned block (how a cached answer replays one), so the next text is a new block', () => {
    const c = reasoningCollector();
    c.add({ delta: 'unsigned' });
    c.add({ signature: '' });
    c.add({ delta: 'signed' });
    c.add({ signature: 'sig-1' });
    expect(c.blocks()).toEqual([{ text: 'unsigned' }, { text: 'signed', signature: 'sig-1' }]);
  });

  it('has no blocks when nothing streamed', () => {
    expect(reasoningCollector().blocks()).toEqual([]);
  });
});
