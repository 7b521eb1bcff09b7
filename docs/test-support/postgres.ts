import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, requireProgram, stopProcess } from './system';

/** A throwaway PostgreSQL server in a temporary directory, on 127.0.0.1. */
export interface TemporaryPostgres {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: 'postgres';
  readonly database: 'postgres';
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication, no password). */
  readonly connectionString: string;
  /** The directory that holds the data directory, the socket and the log. */
  readonly directory: string;
  /** The postmaster's PID. */
  readonly pid: number;
  /** Everything the server wrote to stderr so far. */
  log(): string;
  /** Stops the server (fast shutdown, by its PID) and removes the directory. */
  stop(): Promise<void>;
}

/** The directory with initdb and postgres: `$KEEL_PG_BIN`, else the newest /usr/lib/postgresql/<major>/bin. */
function postgresBinDir(): string {
  if (process.env.KEEL_PG_BIN) return process.env.KEEL_PG_BIN;
  const base = '/usr/lib/postgresql';
  const majors = fs.existsSync(base)
    ? fs.readdirSync(base).filter((name) => fs.existsSync(path.join(base, name, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))
    : [];
  const initdb = requireProgram('PostgreSQL (initdb)', majors.length > 0 ? [path.join(base, majors[0]!, 'bin', 'initdb')] : [path.join(base, '<major>', 'bin', 'initdb'), 'initdb'], 'postgresql');
  return path.dirname(initdb);
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error('running as root, and there is no `postgres` user to run PostgreSQL as: install the `postgresql` Debian package (it creates that user) or run the tests as a normal user');
  }
}

function run(file: string, args: string[], owner: { uid: number; gid: number } | undefined): void {
  try {
    execFileSync(file, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...(owner ?? {}), cwd: os.tmpdir() });
  } catch (error) {
    const failure = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${path.basename(file)} failed: ${failure.message}\n${failure.stdout ?? ''}${failure.stderr ?? ''}`);
  }
}

/**
 * Creates a database cluster in a new temporary directory and starts PostgreSQL
 * on 127.0.0.1 with a free port and its unix socket in that directory. Resolves
 * once it accepts connections. Call `stop()` in `afterAll`.
 */
export async function startPostgres(options: { timeoutMs?: number } = {}): Promise<TemporaryPostgres> {
  const bin = postgresBinDir();
  const owner = runAs();
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'keel-pg-'));
  const dataDir = path.join(directory, 'data');
  if (owner) fs.chownSync(directory, owner.uid, owner.gid);
  run(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], owner);

  const port = await freePort();
  const child: ChildProcess = spawn(
    path.join(bin, 'postgres'),
    [
      '-D', dataDir,
      '-h', '127.0.0.1',
      '-p', String(port),
      '-k', directory,
      // A test server: durability off, small memory, fast shutdown.
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
      '-c', 'shared_buffers=16MB',
      '-c', 'max_connections=40',
      '-c', 'logging_collector=off',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], ...(owner ?? {}), cwd: directory },
  );
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    log += chunk;
  });
  const remove = (): void => fs.rmSync(directory, { recursive: true, force: true });

  const timeoutMs = options.timeoutMs ?? 20_000;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`PostgreSQL did not become ready within ${timeoutMs} ms:\n${log}`)), timeoutMs);
      const onData = (): void => {
        if (/ready to accept connections/.test(log)) {
          clearTimeout(timer);
          child.stderr!.off('data', onData);
          resolve();
        }
      };
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`PostgreSQL exited during startup (code ${code}, signal ${signal}):\n${log}`));
      });
    });
  } catch (error) {
    await stopProcess(child, 'SIGQUIT', 2_000);
    remove();
    throw error;
  }

  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    database: 'postgres',
    connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
    directory,
    pid: child.pid!,
    log: () => log,
    async stop() {
      // SIGINT is PostgreSQL's fast shutdown: it disconnects clients instead of waiting for them.
      await stopProcess(child, 'SIGINT', 10_000);
      remove();
    },
  };
}
