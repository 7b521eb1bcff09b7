import fs from 'node:fs';
import path from 'node:path';
import { describeWithPrograms, runRollingRestart, startNginx, startRecipeInstances, waitForPort, type RecipeInstances } from '../../test-support';

const APP = path.join(__dirname, 'app.js');
const CONFIG = path.join(__dirname, 'nginx.conf');

describeWithPrograms(['nginx'], 'recipe: deregister behind nginx (the real nginx, two instances restarted under load)', () => {
  let instances: RecipeInstances | undefined;
  let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;

  beforeAll(async () => {
    instances = await startRecipeInstances(APP, { names: ['app1', 'app2'] });
    // fail_timeout 5 s -> 1 s, so the test need not wait 5 s after each restart.
    const config = fs.readFileSync(CONFIG, 'utf8').replace(/fail_timeout=5s/g, 'fail_timeout=1s');
    nginx = await startNginx(config, instances.upstreams);
  }, 30_000);

  afterAll(async () => {
    await instances?.kill();
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
      instances: instances!.restartable,
      // nginx has no health state to read: an instance is back once it listens and
      // the (shortened) fail_timeout its refused connections started has passed.
      // Twice that, since nginx may try it once more while it is still starting.
      upstreamsUp: async () => {
        await Promise.all(instances!.upstreams.map(({ port }) => waitForPort(port, 1_000)));
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
