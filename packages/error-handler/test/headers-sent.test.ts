import http from 'node:http';
import { Readable } from 'node:stream';
import request from 'supertest';
import { errorHandler, notFound } from '@keel/error-handler';
import { closeServer, describeEachExpress, listen } from '@keel/test-support';
import { captureLogger } from './helpers';

/** How a raw client saw a response: status, body bytes, whether it completed, or the socket error before any response. */
interface Seen {
  status: number;
  body: string;
  complete: boolean;
  responses: number;
  error?: string;
}

/** A request on a fresh connection that reports how its response ended, however it ended. */
function rawGet(url: string): Promise<Seen> {
  return new Promise((resolve) => {
    let responses = 0;
    const req = http.get(url, { agent: false }, (res) => {
      responses += 1;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('error', () => undefined);
      res.on('close', () => resolve({ status: res.statusCode ?? 0, body, complete: res.complete, responses }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (responses === 0) resolve({ status: 0, body: '', complete: false, responses, error: error.code ?? error.message });
    });
  });
}

describeEachExpress('errorHandler() when headers are already sent', ({ express }) => {
  const capture = captureLogger();
  const app = express();
  app.get('/write-then-throw', (_req, res) => {
    res.setHeader('Content-Type', 'text/plain');
    res.write('partial');
    throw new Error('failed mid-stream');
  });
  app.get('/stream-fails', (_req, res, next) => {
    let sent = 0;
    const source = new Readable({
      read() {
        sent += 1;
        if (sent <= 2) this.push(`chunk ${sent};`);
        else this.destroy(new Error('source failed'));
      },
    });
    res.setHeader('Content-Type', 'text/plain');
    source.on('error', next);
    source.pipe(res);
  });
  app.get('/end-then-next', (_req, res, next) => {
    res.end('done');
    next(new Error('reported after the end'));
  });
  app.get('/write-then-next', (_req, res, next) => {
    res.write('started;');
    next();
  });
  app.get('/late-write', (_req, res, next) => {
    // A route that goes on writing after it reported its error, right after the error response's end()
    // ('prefinish' fires inside end()): until 'finish', such a write is an 'error' event on the response.
    res.once('prefinish', () => res.write('late'));
    next(new Error('reported, then written to anyway'));
  });
  app.get('/ok', (_req, res) => {
    res.send('still alive');
  });
  app.use(notFound({ logger: capture.logger }));
  app.use(errorHandler({ logger: capture.logger, env: 'production' }));

  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    ({ server, url } = await listen(app));
  });
  afterAll(() => closeServer(server));
  beforeEach(() => capture.take());

  it('cuts the connection after res.write() and a throw: one partial response, no crash', async () => {
    const seen = await rawGet(`${url}/write-then-throw`);
    // The cut drops whatever the socket had not flushed yet: the client sees a partial response or a hang-up, never a complete one.
    if (seen.responses === 0) expect(seen.error).toBe('ECONNRESET');
    else expect(seen).toEqual({ status: 200, body: 'partial', complete: false, responses: 1 });
    const lines = capture.take();
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe('error');
    expect(lines[0]!.fields).toMatchObject({ status: 500, outcome: 'destroyed', error: { message: 'failed mid-stream' } });
    const after = await rawGet(`${url}/ok`);
    expect(after).toMatchObject({ status: 200, body: 'still alive', complete: true });
  });

  it('cuts the connection when a piped stream fails half-way', async () => {
    const seen = await rawGet(`${url}/stream-fails`);
    expect(seen.complete).toBe(false);
    expect(seen.responses).toBeLessThanOrEqual(1);
    if (seen.responses === 1) expect(seen.status).toBe(200);
    expect(seen.body).not.toContain('Internal Server Error');
    const lines = capture.take();
    expect(lines).toHaveLength(1);
    expect(lines[0]!.fields).toMatchObject({ outcome: 'destroyed', error: { message: 'source failed' } });
  });

  it('only logs an error reported after the response ended, and leaves the response whole', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await request(url).get('/end-then-next').agent(agent);
      expect(first.status).toBe(200);
      expect(first.text).toBe('done');
      const lines = capture.take();
      expect(lines).toHaveLength(1);
      expect(lines[0]!.fields).toMatchObject({ status: 500, outcome: 'ended' });
      const second = await request(url).get('/ok').agent(agent);
      expect(second.text).toBe('still alive');
    } finally {
      agent.destroy();
    }
  });

  it('turns a write after its error response into a warning, not a crash', async () => {
    const seen = await rawGet(`${url}/late-write`);
    expect(seen).toMatchObject({ status: 500, complete: true, responses: 1 });
    expect(JSON.parse(seen.body).title).toBe('Internal Server Error');
    await expect(rawGet(`${url}/ok`)).resolves.toMatchObject({ status: 200, body: 'still alive' });
    expect(capture.take().map((line) => [line.level, line.message])).toEqual([
      ['error', 'GET /late-write 500'],
      ['warn', 'write after the error response ignored'],
    ]);
  });

  it('leaves a started response alone in notFound(), as Express does', async () => {
    const seen = new Promise<string>((resolve, reject) => {
      const req = http.get(`${url}/write-then-next`, { agent: false }, (res) => {
        res.setEncoding('utf8');
        res.once('data', (chunk: string) => {
          resolve(chunk);
          req.destroy();
        });
      });
      req.on('error', () => undefined);
      req.on('close', () => reject(new Error('closed before any data')));
    });
    await expect(seen).resolves.toBe('started;');
    expect(capture.take()).toHaveLength(0);
  });
});

describeEachExpress('errorHandler() and an unread request body', ({ express }) => {
  const capture = captureLogger();
  const app = express();
  app.post('/throws-before-reading', () => {
    throw new Error('rejected before the body was read');
  });
  app.post('/races', (_req, res, next) => {
    next(new Error('the error handler waits for the body'));
    // Meanwhile the route answers anyway: the error response must not follow it.
    setImmediate(() => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('late answer;');
    });
  });
  app.use(errorHandler({ logger: capture.logger, env: 'production' }));

  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    ({ server, port } = await listen(app));
  });
  afterAll(() => closeServer(server));
  beforeEach(() => capture.take());

  it('reads the rest of the body before answering, so the client gets the answer, not a reset', async () => {
    const events: string[] = [];
    const seen = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/throws-before-reading', agent: false, headers: { 'Content-Length': '10' } }, (res) => {
        events.push('response');
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write('12345');
      // The second half goes out only once the server has surely seen the first.
      setTimeout(() => {
        events.push('rest of body');
        req.end('67890');
      }, 30);
    });
    expect(seen.status).toBe(500);
    expect(JSON.parse(seen.body).title).toBe('Internal Server Error');
    expect(events).toEqual(['rest of body', 'response']);
    expect(capture.take()).toHaveLength(1);
  });

  it('re-checks headersSent after the wait and never writes a second response', async () => {
    const seen = await new Promise<Seen>((resolve, reject) => {
      const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/races', agent: false, headers: { 'Content-Length': '10' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        // The rest of the body goes out once the route's own answer has started.
        req.end('67890');
        res.on('close', () => resolve({ status: res.statusCode ?? 0, body, complete: res.complete, responses: 1 }));
      });
      req.on('error', reject);
      req.write('12345');
    });
    expect(seen.status).toBe(200);
    expect(seen.body).toBe('late answer;');
    expect(seen.complete).toBe(false);
    const lines = capture.take();
    expect(lines.map((line) => line.level)).toEqual(['error', 'warn']);
    expect(lines[0]!.fields).toMatchObject({ status: 500, outcome: 'sent' });
    expect(lines[1]!.message).toMatch(/not sent: headers were sent/);
  });
});
