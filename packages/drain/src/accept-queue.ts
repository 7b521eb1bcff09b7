import { closeSync, openSync, readSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

// One socket per read (a /proc/net/tcp line is 150 bytes): the kernel formats
// only as many sockets as a read asks for, and lists listeners first, so the
// read that finds the listener ends it before the kernel walks on to the
// host's other connections.
const CHUNK_BYTES = 150;
const LISTEN_STATE = '0A';
// "  sl: local_address rem_address st tx_queue:rx_queue ...", addresses as hex "ADDR:PORT".
const SOCKET_LINE = /^\s*\d+:\s+[0-9A-F]+:([0-9A-F]{4})\s+\S+\s+([0-9A-F]{2})\s+[0-9A-F]+:([0-9A-F]+)\s/;

/**
 * How many connections the kernel has completed on the listening socket bound
 * to `address`'s port (the first one listed, should `reusePort` share it) that
 * no process has accepted yet, read from `/proc/net/tcp` (or `tcp6`) on Linux;
 * `undefined` where that cannot be read (other systems, a Unix socket, no
 * procfs, no such listener).
 *
 * Why: closing a listener resets every connection in its accept queue, and those
 * clients have usually sent their request already. Reading the queue right
 * before the close narrows the window in which one can slip in to the time this
 * read takes (0.02 to 0.15 ms on an idle machine, by how far the kernel walks
 * its table of listeners).
 */
export function kernelAcceptQueue(address: AddressInfo | string | null): number | undefined {
  if (address === null || typeof address === 'string' || process.platform !== 'linux') return undefined;
  const port = address.port.toString(16).toUpperCase().padStart(4, '0');
  let fd: number;
  try {
    fd = openSync(address.family === 'IPv6' ? '/proc/net/tcp6' : '/proc/net/tcp', 'r');
  } catch {
    return undefined;
  }
  try {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let text = '';
    let header = true;
    for (;;) {
      const bytes = readSync(fd, chunk, 0, CHUNK_BYTES, null);
      if (bytes === 0) return undefined;
      text += chunk.toString('latin1', 0, bytes);
      let start = 0;
      for (let end = text.indexOf('\n'); end !== -1; start = end + 1, end = text.indexOf('\n', start)) {
        if (header) {
          header = false;
          continue;
        }
        const fields = SOCKET_LINE.exec(text.slice(start, end));
        // For a listener, rx_queue is its accept queue.
        if (fields === null || fields[2] !== LISTEN_STATE) return undefined;
        if (fields[1] === port) return Number.parseInt(fields[3]!, 16);
      }
      text = text.slice(start);
    }
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
