// The kernel's accept queue read from /proc/net/tcp, against a real listener in
// a child process whose event loop is held so that connections queue up.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startFixture } from '@keel/test-support';
import { kernelAcceptQueue } from '../src/accept-queue';

const fixture = path.join(__dirname, 'fixtures', 'blocked-listener.js');

function ipv6LoopbackAvailable(): boolean {
  return Object.values(os.networkInterfaces()).some((addresses) => addresses?.some((address) => address.address === '::1'));
}

const onLinux = process.platform === 'linux' ? it : it.skip;
const onLinuxWithIpv6 = process.platform === 'linux' && ipv6LoopbackAvailable() ? it : it.skip;

/** Connects `count` sockets to `host:port`, resolving once the kernel has completed each handshake. */
function connectAll(host: string, port: number, count: number): Promise<net.Socket[]> {
  return Promise.all(
    Array.from({ length: count }, () => new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ host, port }, () => resolve(socket));
      socket.once('error', reject);
    })),
  );
}

function greeting(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    socket.once('end', () => resolve(text));
    socket.once('error', reject);
  });
}

async function expectQueueToFill(host: string, family: 'IPv4' | 'IPv6', count: number): Promise<void> {
  const releaseFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'keel-accept-queue-')), 'release');
  const listener = startFixture(fixture, { args: [host, releaseFile] });
  try {
    const port = (await listener.waitFor((line) => typeof line === 'number')) as number;
    const address = { address: host, family, port };
    expect(kernelAcceptQueue(address)).toBe(0);

    const sockets = await connectAll(host, port, count);
    expect(kernelAcceptQueue(address)).toBe(count);

    const greetings = sockets.map(greeting);
    fs.writeFileSync(releaseFile, '');
    expect(await Promise.all(greetings)).toEqual(Array.from({ length: count }, () => 'accepted\n'));
    expect(kernelAcceptQueue(address)).toBe(0);
  } finally {
    listener.kill('SIGKILL');
    await listener.exited;
  }
}

describe('kernelAcceptQueue()', () => {
  onLinux('counts the connections the kernel completed that the process has not accepted (IPv4)', async () => {
    await expectQueueToFill('127.0.0.1', 'IPv4', 3);
  });

  onLinuxWithIpv6('reads IPv6 listeners from /proc/net/tcp6', async () => {
    await expectQueueToFill('::1', 'IPv6', 2);
  });

  it('is undefined where there is no TCP listener to read', async () => {
    expect(kernelAcceptQueue(null)).toBeUndefined();
    expect(kernelAcceptQueue('/tmp/app.sock')).toBeUndefined();
    // A port nothing listens on: taken from a server that has closed again.
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    expect(kernelAcceptQueue(address)).toBeUndefined();
  });
});
