/* A brand-new TCP connection (no pooled keep-alive socket): tells whether a server still accepts. */
import { request } from 'node:http';

export function freshConnection(url: string): Promise<'accepted' | 'refused'> {
  return new Promise((resolve) => {
    const req = request(`${url}/healthz`, { agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve('accepted');
    });
    req.on('error', () => resolve('refused'));
    req.on('timeout', () => {
      req.destroy();
      resolve('refused');
    });
    req.end();
  });
}
