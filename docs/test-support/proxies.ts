import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, requireProgram, stopProcess, waitForPort } from './system';

/** A proxy running in the foreground from a config in a temporary directory. */
export interface RunningProxy {
  /** The port clients connect to on 127.0.0.1. */
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** The config file as written. */
  readonly configFile: string;
  /** Everything the proxy wrote to stdout and stderr so far. */
  output(): string;
  /** Stops the proxy by its PID and removes its directory. */
  stop(): Promise<void>;
}

/** An upstream as the test has it: where a recipe's config names a server, this address is used instead. */
export interface Upstream {
  readonly host: string;
  readonly port: number;
}

function startForeground(file: string, args: string[], directory: string, configFile: string, port: number, readyPort: number): Promise<RunningProxy> {
  const child: ChildProcess = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: directory });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const remove = (): void => fs.rmSync(directory, { recursive: true, force: true });
  const proxy: RunningProxy = {
    port,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    configFile,
    output: () => output,
    async stop() {
      await stopProcess(child, 'SIGTERM', 3_000);
      remove();
    },
  };
  const exitedEarly = new Promise<never>((_resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`${path.basename(file)} exited at startup (code ${code}, signal ${signal}):\n${output}\nconfig:\n${fs.readFileSync(configFile, 'utf8')}`)));
  });
  exitedEarly.catch(() => undefined);
  return Promise.race([waitForPort(readyPort, 10_000).then(() => proxy), exitedEarly]).catch(async (error: unknown) => {
    await stopProcess(child, 'SIGKILL', 1_000);
    remove();
    throw error;
  });
}

/**
 * Rewrites a recipe's haproxy.cfg to run here: every `bind` listens on a free
 * port of 127.0.0.1, and the n-th `server` line points at `upstreams[n]`. All
 * else (health checks, timeouts, retries) stays as the recipe wrote it.
 */
export function adaptHaproxyConfig(config: string, port: number, upstreams: readonly Upstream[]): string {
  let index = 0;
  const adapted = config
    .replace(/^(\s*bind\s+)\S+/gm, `$1127.0.0.1:${port}`)
    .replace(/^(\s*server\s+\S+\s+)\S+/gm, (_line, head: string) => {
      const upstream = upstreams[index++];
      if (upstream === undefined) throw new Error(`the config names more servers than the ${upstreams.length} upstreams given`);
      return `${head}${upstream.host}:${upstream.port}`;
    });
  if (index !== upstreams.length) throw new Error(`the config names ${index} servers, the test gave ${upstreams.length} upstreams`);
  return adapted;
}

/**
 * Runs haproxy (the Debian package) in the foreground with `recipeConfig`
 * adapted by {@link adaptHaproxyConfig}, plus a stats listener on its own port
 * so the test can read each server's health-check state.
 */
export async function startHaproxy(recipeConfig: string, upstreams: readonly Upstream[]): Promise<RunningProxy & { serverStates(): Promise<Record<string, string>> }> {
  const haproxy = requireProgram('haproxy', ['haproxy', '/usr/sbin/haproxy'], 'haproxy');
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'keel-haproxy-'));
  const port = await freePort();
  const statsPort = await freePort();
  const configFile = path.join(directory, 'haproxy.cfg');
  const stats = `\n# Added by the test: the servers' states, read by the test.\nfrontend keel_test_stats\n    mode http\n    bind 127.0.0.1:${statsPort}\n    stats enable\n    stats uri /stats\n`;
  fs.writeFileSync(configFile, adaptHaproxyConfig(recipeConfig, port, upstreams) + stats);
  // -db: foreground, no daemon; -W would add a master process with a PID of its own.
  const proxy = await startForeground(haproxy, ['-db', '-f', configFile], directory, configFile, port, statsPort);
  return {
    ...proxy,
    async serverStates() {
      const response = await fetch(`http://127.0.0.1:${statsPort}/stats;csv`);
      const [header, ...rows] = (await response.text()).trim().split('\n');
      const columns = header!.replace(/^# /, '').split(',');
      const name = columns.indexOf('svname');
      const status = columns.indexOf('status');
      const states: Record<string, string> = {};
      for (const row of rows) {
        const cells = row.split(',');
        if (cells[name] !== 'FRONTEND' && cells[name] !== 'BACKEND') states[cells[name]!] = cells[status]!;
      }
      return states;
    },
  };
}

/**
 * Rewrites a recipe's nginx server config (an `upstream` and a `server` block,
 * as it would sit in conf.d) to run here: `listen` on a free port of 127.0.0.1,
 * and the n-th upstream `server` line points at `upstreams[n]`.
 */
export function adaptNginxConfig(config: string, port: number, upstreams: readonly Upstream[]): string {
  let index = 0;
  const adapted = config
    .replace(/^(\s*listen\s+)[^;]+;/gm, `$1127.0.0.1:${port};`)
    .replace(/^(\s*server\s+)(\d[^\s;]*)/gm, (_line, head: string) => {
      const upstream = upstreams[index++];
      if (upstream === undefined) throw new Error(`the config names more servers than the ${upstreams.length} upstreams given`);
      return `${head}${upstream.host}:${upstream.port}`;
    });
  if (index !== upstreams.length) throw new Error(`the config names ${index} servers, the test gave ${upstreams.length} upstreams`);
  return adapted;
}

/**
 * Runs nginx (the Debian package) in the foreground, one process, as the
 * current user, with every path in a temporary directory, and the recipe's
 * server config (adapted by {@link adaptNginxConfig}) inside its `http` block.
 */
export async function startNginx(recipeConfig: string, upstreams: readonly Upstream[]): Promise<RunningProxy> {
  const nginx = requireProgram('nginx', ['nginx', '/usr/sbin/nginx'], 'nginx-light');
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'keel-nginx-'));
  const port = await freePort();
  const siteFile = path.join(directory, 'site.conf');
  fs.writeFileSync(siteFile, adaptNginxConfig(recipeConfig, port, upstreams));
  const configFile = path.join(directory, 'nginx.conf');
  const temp = (name: string): string => path.join(directory, name);
  fs.writeFileSync(
    configFile,
    [
      'daemon off;',
      // One process as the current user: nothing to switch to, and its PID is the one we stop.
      'master_process off;',
      `pid ${temp('nginx.pid')};`,
      'error_log stderr warn;',
      'events { worker_connections 256; }',
      'http {',
      '    access_log off;',
      `    client_body_temp_path ${temp('client_body')};`,
      `    proxy_temp_path ${temp('proxy')};`,
      `    fastcgi_temp_path ${temp('fastcgi')};`,
      `    uwsgi_temp_path ${temp('uwsgi')};`,
      `    scgi_temp_path ${temp('scgi')};`,
      `    include ${siteFile};`,
      '}',
      '',
    ].join('\n'),
  );
  return startForeground(nginx, ['-e', 'stderr', '-p', directory, '-c', configFile], directory, configFile, port, port);
}
