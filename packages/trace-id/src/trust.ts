import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { TrustOption } from './options';

const NAMED: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/** `undefined` means every client is trusted: the middleware then skips the check. */
export type TrustPredicate = ((req: IncomingMessage) => boolean) | undefined;

const trustNone = (): boolean => false;

function addEntry(list: BlockList, entry: string): void {
  const slash = entry.indexOf('/');
  if (slash === -1) {
    list.addAddress(entry, isIP(entry) === 6 ? 'ipv6' : 'ipv4');
    return;
  }
  const address = entry.slice(0, slash);
  list.addSubnet(address, Number(entry.slice(slash + 1)), isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/** Turns the `trust` option into a predicate on the request's peer address. */
export function compileTrust(trust: TrustOption): TrustPredicate {
  if (trust === true) return undefined;
  if (trust === false) return trustNone;
  if (typeof trust === 'function') return (req) => trust(req) === true;
  const list = new BlockList();
  for (const entry of trust) {
    for (const range of NAMED[entry] ?? [entry]) addEntry(list, range);
  }
  return function isTrustedPeer(req) {
    let address = req.socket.remoteAddress;
    if (address === undefined) return false;
    // A dual-stack server sees IPv4 peers as ::ffff:a.b.c.d.
    if (address.startsWith('::ffff:') && isIP(address.slice(7)) === 4) address = address.slice(7);
    return list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  };
}
