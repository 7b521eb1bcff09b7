import http from 'node:http';
import { describeEachExpress, listen, closeServer } from '@keel/test-support';
import { activeContexts } from '@keel/lifecycle';
import { timeout, getSignal, withDeadline } from '@keel/timeout';
import { queueStats } from '../src/deadline-queue';
import { activeTimeouts, captureLogger, sleep } from './helpers';

const REQUESTS = 10_000;
const CONCURRENCY = 16;

function send(agent: http.Agent, url: string, method = 'GET', body?: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(url, { agent, method, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('aborted', () => resolve(-1));
      res.on('error', () => resolve(-1));
    });
    req.on('error', () => resolve(-1));
    req.end(body);
  });
}

/** Polls `condition` every few ms until it holds or `limitMs` passes. */
async function eventually(condition: () => boolean, limitMs: number): Promise<boolean> {
  const until = Date.now() + limitMs;
  while (!condition() && Date.now() < until) await sleep(10);
  return condition();
}

describeEachExpress('timeout() over many requests', ({ express }) => {
  it(`leaves no timer, listener, queue entry or context behind after ${REQUESTS} requests`, async () => {
    const logger = captureLogger();
    let closed = 0;
    let listenerMismatches = 0;
    const app = express();
    app.use((_req, res, next) => {
      const closeListeners = res.listenerCount('close');
      const finishListeners = res.listenerCount('finish');
      res.once('close', () => {
        // After every other 'close' listener has run.
        setImmediate(() => {
          // The request context's one end listener (a function shared by every response) stays; nothing else may.
          if (res.listenerCount('close') !== closeListeners + 1 || res.listenerCount('finish') !== finishListeners) listenerMismatches++;
          closed++;
        });
      });
      next();
    });
    app.use(timeout({ duration: '5s', logger }));
    app.use(express.json());
    app.get('/sync', (_req, res) => {
      res.send('ok');
    });
    app.get('/async', (_req, res) => {
      setImmediate(() => res.json({ ok: true }));
    });
    app.get('/signal', (_req, res, next) => {
      getSignal()!.addEventListener('abort', () => undefined);
      withDeadline(1000, async (signal) => signal.aborted).then((aborted) => res.json({ aborted }), next);
    });
    app.post('/body', (req, res) => {
      res.json(req.body);
    });
    app.get('/deadline', timeout({ duration: 20, logger }), (_req, res) => {
      // Well after the deadline: on a loaded machine a stalled event loop can run both timers in one turn.
      setTimeout(() => res.json({ late: true }), 150);
    });
    app.get('/stream', timeout({ duration: 20, grace: 10, logger }), (_req, res) => {
      res.write('partial');
    });

    const timersBefore = activeTimeouts();
    const { server, url } = await listen(app);
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < REQUESTS) {
        const i = next++;
        let status: number;
        if (i % 500 === 0) status = await send(agent, `${url}/stream`);
        else if (i % 100 === 0) status = await send(agent, `${url}/deadline`);
        else if (i % 4 === 0) status = await send(agent, `${url}/body`, 'POST', JSON.stringify({ i }));
        else if (i % 4 === 1) status = await send(agent, `${url}/signal`);
        else if (i % 4 === 2) status = await send(agent, `${url}/async`);
        else status = await send(agent, `${url}/sync`);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    try {
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      expect(await eventually(() => closed === REQUESTS, 5000)).toBe(true);
      // The handlers of /deadline write 130 ms after their 503: let them.
      await sleep(300);
    } finally {
      agent.destroy();
      await closeServer(server);
    }

    expect(statuses.get(503)).toBe(REQUESTS / 100 - REQUESTS / 500);
    expect(statuses.get(-1)).toBe(REQUESTS / 500);
    expect(statuses.get(200)).toBe(REQUESTS - REQUESTS / 100);
    expect(listenerMismatches).toBe(0);
    expect(queueStats().entries).toBe(0);
    expect(activeContexts().size).toBe(0);
    // A leaked timer stays; one Node or jest holds for a moment (seen once on Node 24 under
    // a loaded machine) goes, so give the count a moment to settle before judging it.
    await eventually(() => activeTimeouts() <= timersBefore, 1000);
    expect(activeTimeouts()).toBeLessThanOrEqual(timersBefore);
    // At most one timer per timeout() middleware may still be armed, unref'd, for a queue now empty.
    expect(queueStats().armedTimers).toBeLessThanOrEqual(3);
    expect(logger.lines.filter((line) => line.message.includes('late write'))).toHaveLength(REQUESTS / 100 - REQUESTS / 500);
  }, 120_000);
});
