import { spawn, type ChildProcess } from 'node:child_process';

/** How a fixture process ended, with everything it printed. */
export interface FixtureResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout split into lines, JSON lines parsed; other lines kept as strings. */
  readonly lines: readonly unknown[];
  /** Milliseconds from spawn to exit. */
  readonly durationMs: number;
}

/** A fixture process still running: wait for its output, signal it, await its end. */
export interface RunningFixture {
  readonly child: ChildProcess;
  /** Resolves with the first stdout line (JSON parsed when it is JSON) that matches. */
  waitFor(match: RegExp | ((line: unknown) => boolean), timeoutMs?: number): Promise<unknown>;
  /** Sends a real signal to the process, by its PID. */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when the process has exited. */
  readonly exited: Promise<FixtureResult>;
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return line;
  }
}

/**
 * Starts a Node program with the same Node binary that runs the tests, so the
 * Node version matrix covers child processes too.
 */
export function startFixture(file: string, options: { env?: NodeJS.ProcessEnv; args?: string[]; timeoutMs?: number } = {}): RunningFixture {
  const startedAt = Date.now();
  const child = spawn(process.execPath, [file, ...(options.args ?? [])], {
    env: { ...process.env, NODE_ENV: 'test', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let pending = '';
  const lines: unknown[] = [];
  const waiters: Array<{ test: (line: unknown) => boolean; resolve: (line: unknown) => void }> = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      const parsed = parseLine(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      lines.push(parsed);
      for (const waiter of [...waiters]) {
        if (waiter.test(parsed)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(parsed);
        }
      }
      newline = pending.indexOf('\n');
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  // A fixture that hangs must not hang the suite: kill it after its time limit.
  const limit = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15000);
  const exited = new Promise<FixtureResult>((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(limit);
      // Let the pipes finish so the last lines are not lost.
      setImmediate(() => {
        if (pending) lines.push(parseLine(pending));
        resolve({ code, signal, stdout, stderr, lines, durationMs: Date.now() - startedAt });
      });
    });
  });
  return {
    child,
    exited,
    kill(signal = 'SIGTERM') {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, signal);
    },
    waitFor(match, timeoutMs = 10000) {
      const test = typeof match === 'function' ? match : (line: unknown) => match.test(typeof line === 'string' ? line : JSON.stringify(line));
      const seen = lines.find(test);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${String(match)} within ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`)), timeoutMs);
        waiters.push({ test, resolve: (line) => { clearTimeout(timer); resolve(line); } });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`process exited before a line matching ${String(match)}; stdout:\n${stdout}\nstderr:\n${stderr}`));
        });
      });
    },
  };
}

/** Runs a fixture to its end and resolves with how it ended. */
export function runFixture(file: string, options: { env?: NodeJS.ProcessEnv; args?: string[]; timeoutMs?: number } = {}): Promise<FixtureResult> {
  return startFixture(file, options).exited;
}
