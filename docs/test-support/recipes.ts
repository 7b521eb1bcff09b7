import path from 'node:path';
import { startFixture, type RunningFixture } from '@keel/test-support';

/** The Express majors a recipe's app file runs on. */
export const EXPRESS_MAJORS = [4, 5] as const;

const useExpress4 = path.join(__dirname, 'use-express4.js');

/**
 * Starts a recipe's app file as a real program, the way a user runs it
 * (`node app.js`), on the given Express major: the file's `require('express')`
 * gets Express 4 through a preload, so the very file the page shows runs on both.
 */
export function startRecipeApp(
  file: string,
  options: { express?: 4 | 5; env?: NodeJS.ProcessEnv; args?: string[]; timeoutMs?: number } = {},
): RunningFixture {
  const env: NodeJS.ProcessEnv = { ...options.env };
  if (options.express === 4) env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${useExpress4}`.trim();
  return startFixture(file, { env, args: options.args, timeoutMs: options.timeoutMs ?? 20_000 });
}

/** Waits for the app's "listening" log line and returns the port it printed. */
export async function listeningPort(app: RunningFixture, timeoutMs = 10_000): Promise<number> {
  const line = (await app.waitFor((entry) => typeof entry === 'object' && entry !== null && (entry as { message?: unknown }).message === 'listening', timeoutMs)) as { port?: unknown };
  if (typeof line.port !== 'number') throw new Error(`the "listening" line has no port: ${JSON.stringify(line)}`);
  return line.port;
}

/** A recipe's app file running for the tests of one `describe` block. */
export interface RunningRecipeApp {
  readonly app: RunningFixture;
  /** `http://127.0.0.1:<port>`, with the port the app logged. */
  readonly baseUrl: string;
}

/**
 * Starts a recipe's app file (on `PORT=0`, on Express `options.express`) before
 * the tests of the enclosing `describe` block, and kills it after them. Read the
 * returned fields inside tests: they are set in `beforeAll`.
 */
export function useRecipeApp(file: string, options: { express: 4 | 5; env?: NodeJS.ProcessEnv }): RunningRecipeApp {
  let app: RunningFixture | undefined;
  let baseUrl: string | undefined;
  beforeAll(async () => {
    app = startRecipeApp(file, { express: options.express, env: { ...options.env, PORT: '0' } });
    baseUrl = `http://127.0.0.1:${await listeningPort(app)}`;
  });
  afterAll(async () => {
    app?.kill('SIGKILL');
    await app?.exited;
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error(`${path.basename(file)} is started in beforeAll: read it inside a test`);
    return value;
  };
  return {
    get app() {
      return started(app);
    },
    get baseUrl() {
      return started(baseUrl);
    },
  };
}
