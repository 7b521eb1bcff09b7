import fs from 'node:fs';
import path from 'node:path';
import type { RunningFixture } from '@keel/test-support';
import { describeSystem, freePort, runRollingRestart, startNginx, startRecipeApp, waitForPort } from '../../test-support';

const APP = path.join(__dirname, 'app.js');
const CONFIG = path.join(__dirname, 'nginx.conf');

describeSystem('recipe: deregister behind nginx (the real nginx, two instances restarted under load)', () => {
  const instances: Array<{ name: string; port: number; app?: RunningFixture }> = [];
  let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;

  const start = async (instance: (typeof instances)[number]): Promise<void> => {
    instance.app = startRecipeApp(APP, { env: { PORT: String(instance.port), INSTANCE: instance.name }, timeoutMs: 60_000 });
    await waitForPort(instance.port);
  };

  beforeAll(async () => {
    for (const name of ['app1', 'app2']) instances.push({ name, port: await freePort() });
    for (const instance of instances) await start(instance);
    // fail_timeout 5 s -> 1 s, so the test need not wait 5 s after each restart.
    const config = fs.readFileSync(CONFIG, 'utf8').replace(/fail_timeout=5s/g, 'fail_timeout=1s');
    nginx = await startNginx(config, instances.map(({ port }) => ({ host: '127.0.0.1', port })));
  }, 30_000);

  afterAll(async () => {
    for (const { app } of instances) {
      app?.kill('SIGKILL');
      await app?.exited;
    }
    await nginx?.stop();
  });

  it('keeps the recipe\'s retry settings (the test shortens fail_timeout only)', () => {
    const config = fs.readFileSync(CONFIG, 'utf8');
    expect(config).toMatch(/proxy_next_upstream error timeout;/);
    expect(config.match(/^\s*server\s+\S+\s+max_fails=1 fail_timeout=5s;/gm)).toHaveLength(2);
  });

  it('loses no request while each instance in turn drains on SIGTERM and starts again', async () => {
    const result = await runRollingRestart({
      url: `${nginx!.url}/`,
      concurrency: 4,
      instances: instances.map((instance) => ({
        name: instance.name,
        async restart() {
          instance.app!.kill('SIGTERM');
          const exited = await instance.app!.exited;
          if (exited.code !== 0) throw new Error(`${instance.name} exited ${exited.code}:\n${exited.stdout}\n${exited.stderr}`);
          await start(instance);
        },
      })),
      // nginx has no health state to read: an instance is back once it listens and
      // the (shortened) fail_timeout its refused connections started has passed.
      // Twice that, since nginx may try it once more while it is still starting.
      upstreamsUp: async () => {
        await Promise.all(instances.map(({ port }) => waitForPort(port, 1_000)));
        return true;
      },
      settleMs: 2_000,
    });
    // On failure, the proxy's own log says which upstream failed and how.
    expect({ failures: result.failures, proxyLog: result.failures.length > 0 ? nginx!.output() : '' }).toEqual({ failures: [], proxyLog: '' });
    expect(result.ok).toBeGreaterThanOrEqual(200);
    expect(result.servedBy.app1).toBeGreaterThan(0);
    expect(result.servedBy.app2).toBeGreaterThan(0);
  }, 60_000);
});
