import net from 'node:net';
import { findProgram } from '../../scripts/system-programs';

// A suite that needs haproxy, nginx, PostgreSQL or Chromium is declared with
// `describeWithPrograms` (from @keel/test-support): skipped, and named in the
// summary at the end of the run, where a program is missing; failed under CI.
export { describeWithPrograms } from '@keel/test-support';
export { findProgram };

/** Returns the program's path, or throws an error that says which Debian package installs it. */
export function requireProgram(what: string, candidates: readonly string[], debianPackage: string): string {
  const found = findProgram(candidates);
  if (found !== undefined) return found;
  throw new Error(
    `${what} is not installed (looked for ${candidates.join(', ')}). Install it with ` +
      `\`apt-get install -y --no-install-recommends ${debianPackage}\` (Debian/Ubuntu; .ci/run does this), ` +
      'or set KEEL_SKIP_SYSTEM_TESTS=1 to skip the suites that need programs beyond Node.',
  );
}

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Sends `signal` to `pid` and resolves once the process is gone; SIGKILL after `graceMs`. */
export async function stopProcess(child: import('node:child_process').ChildProcess, signal: NodeJS.Signals, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.pid !== undefined) process.kill(child.pid, signal);
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
}
