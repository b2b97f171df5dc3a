/* Server-sent events for the streamed REST answers: `data: <json>\n\n` frames, written with backpressure. */
import type { ServerResponse } from 'node:http';

export class SseWriter {
  constructor(private readonly res: ServerResponse) {}

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  start(headers: Record<string, string> = {}): void {
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // proxies such as nginx must not buffer the stream
      'x-accel-buffering': 'no',
      ...headers,
    });
    this.res.flushHeaders();
  }

  /**
   * Writes one `data:` event, named when `event` is given. Waits while the socket buffer is full, so a slow client slows the
   * read of the upstream stream instead of growing memory. False once the client is gone.
   */
  async send(data: unknown, event?: string): Promise<boolean> {
    if (this.closed) return false;
    const payload = typeof data === 'string' ? data : JSON.stringify(data);
    // named events (`event: message_start`) are how Anthropic's and the Responses API's streams tell their events apart
    if (this.res.write(event ? `event: ${event}\ndata: ${payload}\n\n` : `data: ${payload}\n\n`)) return true;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
    return !this.closed;
  }

  end(): void {
    if (!this.closed) this.res.end();
  }
}
