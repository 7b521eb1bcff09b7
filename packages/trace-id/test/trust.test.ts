import type { IncomingMessage } from 'node:http';
import { DEFAULTS } from '@keel/trace-id';
import { compileTrust } from '../src/trust';

// Real sockets in these tests always come from loopback (see trace-id.test.ts);
// the peers of an internet-facing service are checked on the compiled predicate.
const peer = (remoteAddress: string | undefined) => ({ socket: { remoteAddress } }) as unknown as IncomingMessage;

describe('the default trust', () => {
  const isTrusted = compileTrust(DEFAULTS.trust)!;

  it.each(['127.0.0.1', '127.8.9.10', '::1', '10.1.2.3', '172.16.0.1', '172.31.255.254', '192.168.1.20', '169.254.10.1', 'fd12:3456::1', 'fe80::1', '::ffff:10.0.0.7', '::ffff:127.0.0.1'])(
    'believes a loopback or private peer (%s): a proxy or a service in the same network',
    (address) => expect(isTrusted(peer(address))).toBe(true),
  );

  it.each(['203.0.113.7', '8.8.8.8', '172.32.0.1', '100.64.0.1', '2001:db8::1', '::ffff:203.0.113.7', ''])(
    'does not believe an internet peer (%s)',
    (address) => expect(isTrusted(peer(address))).toBe(false),
  );

  it('does not believe a request whose socket has no address any more', () => {
    expect(isTrusted(peer(undefined))).toBe(false);
  });
});
