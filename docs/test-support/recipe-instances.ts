import type { RunningFixture } from '@keel/test-support';
import type { Upstream } from './proxies';
import { startRecipeApp } from './recipes';
import type { RestartableInstance } from './rolling-restart';
import { freePort, waitForPort } from './system';

/** Copies of one recipe app, each on its own port of 127.0.0.1, as a proxy's upstreams. */
export interface RecipeInstances {
  /** Where each copy listens, in the order of the names given: the proxy config's servers. */
  readonly upstreams: readonly Upstream[];
  /** The copies, by name, as `runRollingRestart()` restarts them. */
  readonly restartable: readonly RestartableInstance[];
  /** Kills every copy (SIGKILL) and waits until each has exited. */
  kill(): Promise<void>;
}

/**
 * Starts a recipe's app file once per name, each on a free port with `PORT` and
 * `INSTANCE` (the name, which the app puts in its responses) added to
 * `options.env`, and resolves once every copy listens. A restart sends SIGTERM,
 * throws with the copy's output unless it exits 0, and starts it again on its port.
 */
export async function startRecipeInstances(file: string, options: { names: readonly string[]; env?: NodeJS.ProcessEnv }): Promise<RecipeInstances> {
  const copies: Array<{ name: string; port: number; app?: RunningFixture }> = [];
  for (const name of options.names) copies.push({ name, port: await freePort() });
  const start = async (copy: (typeof copies)[number]): Promise<void> => {
    copy.app = startRecipeApp(file, { env: { ...options.env, PORT: String(copy.port), INSTANCE: copy.name }, timeoutMs: 60_000 });
    await waitForPort(copy.port);
  };
  const kill = async (): Promise<void> => {
    for (const { app } of copies) {
      app?.kill('SIGKILL');
      await app?.exited;
    }
  };
  try {
    for (const copy of copies) await start(copy);
  } catch (error) {
    await kill();
    throw error;
  }
  return {
    upstreams: copies.map(({ port }) => ({ host: '127.0.0.1', port })),
    restartable: copies.map((copy) => ({
      name: copy.name,
      async restart() {
        copy.app!.kill('SIGTERM');
        const exited = await copy.app!.exited;
        if (exited.code !== 0) throw new Error(`${copy.name} exited ${exited.code}:\n${exited.stdout}\n${exited.stderr}`);
        await start(copy);
      },
    })),
    kill,
  };
}
