import { closeSync, openSync, readSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

const CHUNK_BYTES = 16 * 1024;
const LISTEN_STATE = '0A';

/**
 * How many connections the kernel has completed on listening sockets bound to
 * `address`'s port that no process has accepted yet, read from `/proc/net/tcp`
 * (or `tcp6`) on Linux; `undefined` where that cannot be read (other systems,
 * a Unix socket, no procfs).
 *
 * Why: closing a listener resets every connection in its accept queue, and those
 * clients have usually sent their request already. Reading the queue right
 * before the close narrows the window in which one can slip in to the time this
 * read takes. The kernel lists listening sockets first, so the read stops at the
 * first socket in another state instead of reading every connection of the host.
 */
export function kernelAcceptQueue(address: AddressInfo | string | null): number | undefined {
  if (address === null || typeof address === 'string' || process.platform !== 'linux') return undefined;
  const port = `:${address.port.toString(16).toUpperCase().padStart(4, '0')}`;
  let fd: number;
  try {
    fd = openSync(address.family === 'IPv6' ? '/proc/net/tcp6' : '/proc/net/tcp', 'r');
  } catch {
    return undefined;
  }
  try {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let queued = 0;
    let found = false;
    let pending = '';
    let header = true;
    for (;;) {
      const bytes = readSync(fd, chunk, 0, CHUNK_BYTES, null);
      if (bytes === 0) return found ? queued : undefined;
      const lines = (pending + chunk.toString('latin1', 0, bytes)).split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (header) {
          header = false;
          continue;
        }
        // "  sl: local rem st tx_queue:rx_queue ...": for a listener, rx_queue is its accept queue.
        const fields = line.trim().split(/\s+/);
        if (fields[3] !== LISTEN_STATE) return found ? queued : undefined;
        if (!fields[1]!.endsWith(port)) continue;
        found = true;
        queued += Number.parseInt(fields[4]!.split(':')[1]!, 16);
      }
    }
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
