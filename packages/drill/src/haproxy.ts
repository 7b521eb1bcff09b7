import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** What to do when haproxy is missing. */
export const INSTALL_HINT = 'haproxy is not installed. On Debian/Ubuntu: sudo apt-get install haproxy; on macOS: brew install haproxy. Or skip the rolling restart.';

/** The haproxy binary and its version. */
export interface Haproxy {
  readonly binary: string;
  readonly version: string;
}

/** The haproxy binary (`$HAPROXY`, then the PATH and the usual places) and its version, or null when it is not installed. */
export function findHaproxy(): Haproxy | null {
  for (const candidate of [process.env.HAPROXY, 'haproxy', '/usr/sbin/haproxy', '/usr/local/sbin/haproxy'].filter((item): item is string => Boolean(item))) {
    const found = spawnSync(candidate, ['-v'], { encoding: 'utf8' });
    if (!found.error && found.status === 0) return { binary: candidate, version: (/version (\S+)/i.exec(found.stdout) ?? [])[1] ?? 'unknown' };
  }
  return null;
}

/** haproxy's health check: every `interMs`, down after `fall` failures, up after `rise` successes. */
export interface HealthCheckTiming {
  readonly interMs: number;
  readonly fall: number;
  readonly rise: number;
}

/**
 * The config: one frontend, one backend of `servers` with an HTTP health check
 * on `checkPath`, and a stats page. Retries only where nothing was sent yet
 * (`retry-on conn-failure`, to another server with `option redispatch`): a
 * request that reached a server is never replayed, so every loss is visible.
 */
export function haproxyConfig({ frontPort, statsPort, servers, check, checkPath }: { frontPort: number; statsPort: number; servers: ReadonlyArray<{ name: string; port: number }>; check: HealthCheckTiming; checkPath: string }): string {
  return [
    'global',
    '  maxconn 2000',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 15s',
    '  timeout server 15s',
    '  timeout http-keep-alive 10s',
    '  timeout queue 5s',
    // Without it a check times out after `inter`: on a busy machine a slow but healthy answer would mark a server down.
    '  timeout check 2s',
    '  retries 3',
    '  retry-on conn-failure',
    '  option redispatch 1',
    '',
    'frontend drill',
    `  bind 127.0.0.1:${frontPort}`,
    '  default_backend app',
    '',
    'backend app',
    '  balance roundrobin',
    `  option httpchk GET ${checkPath}`,
    '  http-check expect status 200',
    `  default-server inter ${check.interMs}ms fastinter ${check.interMs}ms downinter ${check.interMs}ms fall ${check.fall} rise ${check.rise}`,
    ...servers.map((server) => `  server ${server.name} 127.0.0.1:${server.port} check`),
    '',
    'listen stats',
    `  bind 127.0.0.1:${statsPort}`,
    '  stats enable',
    '  stats uri /stats',
    '',
  ].join('\n');
}

/** A haproxy running in the foreground as the drill's child. */
export interface RunningHaproxy {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts haproxy in the foreground (`-db`) with `cfg`; resolves once its frontend accepts connections. */
export async function startHaproxy({ binary, cfg, frontPort }: { binary: string; cfg: string; frontPort: number }): Promise<RunningHaproxy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keel-drill-haproxy-'));
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(file, cfg);
  const child = spawn(binary, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`haproxy exited with ${child.exitCode}:\n${output}`);
    }
    if (await accepts(frontPort)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not listen within 10 s:\n${output}`);
    }
    await sleep(50);
  }
  return { child, output: () => output, stop };
}

/** The status (UP, DOWN, MAINT...) of each server of backend `app`, from the CSV stats page. */
export function serverStates(statsPort: number): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: statsPort, path: '/stats;csv', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        const [header = '', ...rows] = body.trim().split('\n');
        const columns = header.replace(/^# /, '').split(',');
        const at = (name: string) => columns.indexOf(name);
        const states: Record<string, string> = {};
        for (const row of rows) {
          const cells = row.split(',');
          const name = cells[at('svname')] ?? '';
          if (cells[at('pxname')] === 'app' && !['FRONTEND', 'BACKEND'].includes(name)) states[name] = cells[at('status')] ?? '';
        }
        resolve(states);
      });
    });
    req.on('error', reject);
    req.setTimeout(2000, () => req.destroy(new Error('stats page did not answer')));
  });
}

/** Resolves once server `name` is `want` in haproxy's view; rejects after `timeoutMs`. */
export async function waitForState(statsPort: number, name: string, want = 'UP', timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  while (Date.now() < deadline) {
    last = (await serverStates(statsPort).catch(() => ({}) as Record<string, string>))[name];
    if (last && last.split(' ')[0] === want) return;
    await sleep(25);
  }
  throw new Error(`haproxy did not see ${name} ${want} within ${timeoutMs} ms (last: ${last})`);
}
