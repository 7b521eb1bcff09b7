import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';

/** How to start the app under drill: a Node program (`fixture`) or a shell command. */
export interface TargetSpec {
  /** A Node program, run with `nodePath`. */
  fixture?: string;
  /** A shell command, e.g. `node app.js` or `npm start`. */
  command?: string;
  /** The working directory. */
  cwd?: string;
  /** The Node binary for `fixture`. */
  nodePath?: string;
  /** Environment added to the drill's own. */
  env?: NodeJS.ProcessEnv;
  /** The port the app listens on; it gets it as `PORT`. Unset: the one the app prints in a `{"event":"listening","port":N}` line. */
  port?: number;
  /** A path that answers 2xx once the app is ready; unset, the first answer on `probePath` (or the fixture's `listening` line). */
  readyPath?: string;
  /** The path probed for any answer when there is no `readyPath`. */
  probePath?: string;
  /** How long the app has to become ready. */
  startTimeoutMs?: number;
}

/** One stdout line of the app, JSON-parsed when it is JSON, with the time it came. */
export interface TargetLine {
  readonly at: number;
  readonly line: unknown;
}

/** A running app. */
export interface RunningTarget {
  readonly child: ChildProcess;
  /** Resolves with the port once the app is ready. */
  readonly ready: Promise<number>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  readonly lines: TargetLine[];
  readonly startedAt: number;
  stderr(): string;
  /** Sends `signal` to the app. */
  kill(signal: NodeJS.Signals): void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MAX_KEPT_LINES = 2000;
const MAX_STDERR = 64 * 1024;

/** A free TCP port on 127.0.0.1. */
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

/** The status of `GET path`, or undefined when nothing answered. */
export function probe(port: number, path: string, timeoutMs = 1000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(undefined));
    });
    req.on('error', () => resolve(undefined));
    req.setTimeout(timeoutMs, () => req.destroy());
  });
}

/**
 * The command run by the shell with `exec`, so the signal reaches the app itself
 * (or npm, which passes it on) and its exit is the app's. Leading `NAME=value`
 * assignments stay in front.
 */
export function execCommand(command: string): string {
  if (process.platform === 'win32') return command;
  const assignments = /^\s*((?:[A-Za-z_][A-Za-z0-9_]*=(?:'[^']*'|"[^"]*"|[^\s'"]*)\s+)*)/.exec(command)![1]!;
  return `${assignments}exec ${command.slice(assignments.length).trimStart()}`;
}

/** Starts the app and watches its output; `ready` resolves once it answers. */
export function startTarget(spec: TargetSpec, fixedPort?: number): RunningTarget {
  const startedAt = Date.now();
  const port = fixedPort ?? spec.port;
  const env = { ...process.env, NODE_ENV: 'production', ...spec.env, ...(port === undefined ? {} : { PORT: String(port) }) };
  let child: ChildProcess;
  if (spec.command !== undefined) {
    child = spawn(execCommand(spec.command), { shell: true, cwd: spec.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  } else if (spec.fixture !== undefined) {
    child = spawn(spec.nodePath ?? process.execPath, [spec.fixture], { cwd: spec.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  } else {
    throw new TypeError('startTarget: a fixture or a command is required');
  }
  const lines: TargetLine[] = [];
  let stderr = '';
  let pending = '';
  let onLine: (line: unknown) => void = () => {};
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    let newline;
    while ((newline = pending.indexOf('\n')) !== -1) {
      const text = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      let line: unknown = text;
      try {
        line = JSON.parse(text);
      } catch {
        // not JSON
      }
      // Only the app's event lines matter to the drill: keep memory bounded for chatty apps.
      if (lines.length < MAX_KEPT_LINES) lines.push({ at: Date.now(), line });
      onLine(line);
    }
    if (pending.length > MAX_STDERR) pending = '';
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < MAX_STDERR) stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
    child.on('error', (error) => {
      stderr += `spawn failed: ${error.message}`;
      resolve({ code: null, signal: null, at: Date.now() });
    });
  });
  const startTimeoutMs = spec.startTimeoutMs ?? 10_000;
  const ready = new Promise<number>((resolve, reject) => {
    let done = false;
    const finish = (error: Error | undefined, value?: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new Error(`the app was not ready within ${startTimeoutMs} ms${spec.readyPath ? ` (GET ${spec.readyPath} never answered 2xx)` : ''}${port !== undefined && spec.command !== undefined ? ` on port ${port}: does it listen on $PORT?` : ''}; stderr: ${stderr.slice(-2000)}`)), startTimeoutMs);
    void exited.then((exit) => finish(new Error(`the app exited (${exit.code ?? exit.signal}) before it was ready; stderr: ${stderr.slice(-2000)}`)));
    const poll = async (known: number) => {
      while (!done) {
        const status = await probe(known, spec.readyPath ?? spec.probePath ?? '/', 500);
        if (status !== undefined && (spec.readyPath === undefined || (status >= 200 && status < 300))) return finish(undefined, known);
        await sleep(25);
      }
    };
    if (port !== undefined) {
      void poll(port);
    } else {
      // A fixture that picks its own port says which in its `listening` line.
      onLine = (line) => {
        const event = line as { event?: unknown; port?: unknown } | null;
        if (event && event.event === 'listening' && typeof event.port === 'number') {
          onLine = () => {};
          if (spec.readyPath === undefined) finish(undefined, event.port);
          else void poll(event.port);
        }
      };
    }
  });
  ready.catch(() => {});
  // A target that outlives the drill is killed with it.
  const killer = setTimeout(() => kill('SIGKILL'), startTimeoutMs + 120_000);
  void exited.then(() => clearTimeout(killer));
  function kill(signal: NodeJS.Signals): void {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
  return { child, ready, exited, lines, startedAt, stderr: () => stderr, kill };
}
