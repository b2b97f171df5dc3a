/*
 * Where a webhook may point. A team's admin is not trusted with the gateway's network position: its webhooks must
 * not reach loopback, private, link-local (cloud metadata) or other non-public addresses. The rule is checked on the
 * URL at creation and again on the address actually connected to at each try (DNS may have changed meanwhile).
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import type { Agent } from 'undici';
import { lazyRequire } from '../util/lazy-require.js';

/** Loaded with the first delivery. */
const undici = lazyRequire<typeof import('undici')>('undici');

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) blocked.addSubnet(net, prefix, 'ipv6');

/** Whether an IP literal is one a restricted webhook must not reach (IPv4-mapped IPv6 is judged as IPv4). */
function isPrivateAddress(ip: string): boolean {
  const bare = ip.replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return blocked.check(mapped[1], 'ipv4');
  const family = isIP(bare);
  if (family === 4) return blocked.check(bare, 'ipv4');
  if (family === 6) return blocked.check(bare, 'ipv6');
  return false;
}

/** The first non-public address a host name (or literal) resolves to; undefined when every one is public. */
export async function privateAddressOf(hostname: string): Promise<string | undefined> {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return isPrivateAddress(host) ? host : undefined;
  const addresses = await lookup(host, { all: true });
  return addresses.find((a) => isPrivateAddress(a.address))?.address;
}

/** A dispatcher whose connections refuse non-public addresses: the check is on the address really connected to. */
export function publicOnlyDispatcher(): Agent {
  return new (undici().Agent)({
    connect: {
      lookup(hostname, options, callback) {
        lookupCallback(hostname, options, callback);
      },
    },
  });
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | Array<{ address: string; family: number }>, family?: number) => void;

function lookupCallback(hostname: string, options: { all?: boolean }, callback: LookupCallback): void {
  lookup(hostname, { all: true }).then(
    (addresses) => {
      const bad = addresses.find((a) => isPrivateAddress(a.address));
      if (bad) {
        callback(Object.assign(new Error(`refused: ${hostname} resolves to the non-public address ${bad.address}`), { code: 'EPRIVATEADDRESS' }), []);
        return;
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    },
    (err: NodeJS.ErrnoException) => callback(err, []),
  );
}
