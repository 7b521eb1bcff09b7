import http from 'node:http';
import { describeEachExpress, listen, closeServer } from '@keel/test-support';
import { timeout } from '@keel/timeout';
import { queueStats } from '../src/deadline-queue';
import { captureLogger, sleep } from './helpers';

function get(agent: http.Agent, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

// Its own file: the armed-timer count is per module, and other tests leave longer timers armed.
describeEachExpress('timeout() shared timer', ({ express }) => {
  it('arms one timer for many requests and lets it lapse once its queue is empty', async () => {
    const app = express();
    app.use(timeout({ duration: 150, logger: captureLogger() }));
    let maxArmed = 0;
    app.get('/sync', (_req, res) => {
      maxArmed = Math.max(maxArmed, queueStats().armedTimers);
      res.send('ok');
    });
    const { server, url } = await listen(app);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    try {
      let left = 200;
      const worker = async (): Promise<void> => {
        while (left > 0) {
          left--;
          expect(await get(agent, `${url}/sync`)).toBe(200);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      expect(queueStats().entries).toBe(0);
      expect(maxArmed).toBe(1);
    } finally {
      agent.destroy();
      await closeServer(server);
    }
    const until = Date.now() + 2000;
    while (queueStats().armedTimers > 0 && Date.now() < until) await sleep(10);
    expect(queueStats().armedTimers).toBe(0);
  });
});
