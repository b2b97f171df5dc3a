/* GraphiQL over plain HTTP: a small page that loads the bundle from separate files, each compressed when the client
 * accepts it and cacheable for good (its name carries its content hash). The browser test (test/browser) runs it. */
import { request } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** node:http, so the body arrives as sent (fetch would decompress it). */
function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const BROWSER = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'accept-encoding': 'gzip, deflate, br, zstd' };

describe('GraphiQL page and files', () => {
  let gw: TestGateway;
  let html: string;
  let files: string[];

  beforeAll(async () => {
    gw = await startGateway();
    const page = await get(`${gw.url}/graphql`, BROWSER);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    html = page.body.toString();
    files = [...html.matchAll(/(?:src|href)="(\/graphql\/graphiql\/[^"]+)"/g)].map((m) => m[1]);
  });
  afterAll(() => gw?.stop());

  it('serves a small page that references the bundle, with no inline script', () => {
    expect(html.length).toBeLessThan(20_000);
    expect(html).toContain('<title>GraphQL AI Gateway</title>');
    // the script, its bootstrap, the stylesheet and the icon
    expect(files.filter((f) => f.endsWith('.js'))).toHaveLength(2);
    expect(files.filter((f) => f.endsWith('.css'))).toHaveLength(1);
    for (const f of files) expect(f).toMatch(/^\/graphql\/graphiql\/[\w-]+\.[0-9a-f]{16}\.(js|css|ico)$/);
    // every script element either loads a file or only carries the options as JSON, so a strict CSP holds
    for (const [tag] of html.matchAll(/<script\b[^>]*>/g)) expect(tag).toMatch(/ src="|type="application\/json"/);
    expect(html).toMatch(/Content-Security-Policy" content="[^"]*script-src 'self'[;"]/);
    // the options GraphiQL starts with: a stream and a chat of the same input
    const options = JSON.parse(/<script type="application\/json" id="graphiql-options">([^<]*)<\/script>/.exec(html)![1]);
    expect(options.defaultQuery).toMatch(/subscription Stream\(\$input: ChatInput!\)[\s\S]*mutation Chat\(\$input: ChatInput!\)/);
    expect(JSON.parse(options.variables).input.model).toBe('echo');
  });

  it('answers every file compressed as the client accepts, cacheable for a year, the same bytes each way', async () => {
    const bootstrap = files.find((f) => f.includes('/bootstrap.'))!;
    const workers = [...(await get(gw.url + bootstrap)).body.toString().matchAll(/"(\/graphql\/graphiql\/[^"]+\.js)"/g)].map((m) => m[1]);
    // Monaco's editor, JSON and GraphQL workers
    expect(workers).toHaveLength(3);
    let total = 0;
    for (const file of [...files, ...workers]) {
      const plain = await get(gw.url + file);
      expect(plain.status).toBe(200);
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(plain.headers.vary).toBe('accept-encoding');
      expect(Number(plain.headers['content-length'])).toBe(plain.body.length);
      total += plain.body.length;

      const br = await get(gw.url + file, { 'accept-encoding': BROWSER['accept-encoding'] });
      expect(br.headers['content-encoding']).toBe('br');
      expect(br.headers['cache-control']).toContain('immutable');
      expect(br.headers['content-type']).toBe(plain.headers['content-type']);
      expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true);

      const gz = await get(gw.url + file, { 'accept-encoding': 'gzip;q=1, br;q=0' });
      expect(gz.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);
      if (plain.body.length > 100_000) expect(br.body.length).toBeLessThan(plain.body.length / 2);
    }
    // the whole bundle, which the page used to carry inline
    expect(total).toBeGreaterThan(5_000_000);
  });

  it('answers HEAD without a body, and 404 / 405 for what it does not serve', async () => {
    const script = files.find((f) => f.endsWith('.js') && !f.includes('/bootstrap.'))!;
    const head = await get(gw.url + script, { 'accept-encoding': 'br' }, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    expect((await get(`${gw.url}/graphql/graphiql/graphiql.0000000000000000.js`)).status).toBe(404);
    expect((await get(gw.url + script, {}, 'DELETE')).status).toBe(405);
  });
});
