import http from 'node:http';
import path from 'node:path';
import { listen, closeServer, type RunningFixture } from '@keel/test-support';
import { EXPRESS_MAJORS, listeningPort, startRecipeApp } from '../../test-support';

const APP = path.join(__dirname, 'app.js');

type Behaviour = (n: number, res: http.ServerResponse) => void;

/** A stand-in for the users service whose behaviour each test sets; it counts what reaches it. */
async function usersService() {
  let behaviour: Behaviour = (_n, res) => res.end();
  let seen = 0;
  const open = new Set<http.ServerResponse>();
  const { server, url } = await listen((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    behaviour(seen++, res);
  });
  return {
    url,
    get seen() {
      return seen;
    },
    behave(next: Behaviour) {
      behaviour = next;
      seen = 0;
    },
    async close() {
      for (const res of open) res.destroy();
      await closeServer(server);
    },
  };
}

function user(res: http.ServerResponse): void {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ id: 7, name: 'Ada' }));
}

describe.each(EXPRESS_MAJORS)('recipe: retry a failing dependency within the deadline (app.js on Express %i)', (major) => {
  let users: Awaited<ReturnType<typeof usersService>>;
  let app: RunningFixture;
  let base: string;

  beforeAll(async () => {
    users = await usersService();
    app = startRecipeApp(APP, { express: major, env: { PORT: '0', USERS_URL: users.url } });
    base = `http://127.0.0.1:${await listeningPort(app)}`;
  });

  afterAll(async () => {
    app.kill('SIGKILL');
    await app.exited;
    await users.close();
  });

  it('retries a 503 and answers from the retry', async () => {
    users.behave((n, res) => {
      if (n === 0) {
        res.statusCode = 503;
        res.end();
      } else user(res);
    });
    const response = await fetch(`${base}/users/7`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ id: 7, name: 'Ada' });
    expect(users.seen).toBe(2);
  });

  it('retries a connection reset', async () => {
    users.behave((n, res) => (n === 0 ? res.socket!.destroy() : user(res)));
    expect((await fetch(`${base}/users/7`)).status).toBe(200);
    expect(users.seen).toBe(2);
  });

  it('fails at once with a 504 when Retry-After asks for more than the second left', async () => {
    users.behave((_n, res) => {
      res.statusCode = 503;
      res.setHeader('retry-after', '5');
      res.end();
    });
    const startedAt = Date.now();
    const response = await fetch(`${base}/users/7`, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(504);
    expect(Date.now() - startedAt).toBeLessThan(500);
    expect(users.seen).toBe(1);
  });

  it('answers 504 within the request deadline when users hangs', async () => {
    users.behave(() => undefined);
    const startedAt = Date.now();
    const response = await fetch(`${base}/users/7`, { headers: { accept: 'application/json' } });
    const elapsed = Date.now() - startedAt;
    expect(response.status).toBe(504);
    expect(elapsed).toBeLessThan(1000);
  });

  it('stops calling users while it is down: fast 503s with Retry-After', async () => {
    users.behave((_n, res) => {
      res.statusCode = 503;
      res.end();
    });
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 30; i++) {
      last = await fetch(`${base}/users/${i}`, { headers: { accept: 'application/json' } });
      await last.arrayBuffer();
      statuses.push(last.status);
    }
    // The first calls get the dependency's failure as a 502; once the circuit opens, 503s that never reach it.
    expect(statuses[0]).toBe(502);
    expect(statuses.at(-1)).toBe(503);
    expect(last!.headers.get('retry-after')).toMatch(/^\d+$/);
    // Far fewer attempts than 30 calls times 3 attempts: the budget held the retries, the circuit the calls.
    expect(users.seen).toBeLessThan(30);
  });
});
