/*
 * Preloaded into the Portkey process only (node --import). On Node, Portkey 1.15 answers every streamed chat
 * completion with HTTP 500 "Something went wrong": its stream path wraps the upstream fetch Response in
 * @hono/node-server's lightweight Response, which keeps the fetch response's immutable Headers, and then
 * appends x-portkey-* headers to them (TypeError: immutable; see Portkey-AI/gateway#1389, #1550).
 * This gives streamed (text/event-stream) upstream responses a mutable copy of their headers; JSON
 * responses are returned untouched, so non-streaming numbers are Portkey's own.
 */
const originalFetch = globalThis.fetch;
const OriginalResponse = globalThis.Response;

globalThis.fetch = async function fetchWithMutableStreamHeaders(input, init) {
  const res = await originalFetch(input, init);
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) return res;
  return new OriginalResponse(res.body, { status: res.status, statusText: res.statusText, headers: new Headers(res.headers) });
};
