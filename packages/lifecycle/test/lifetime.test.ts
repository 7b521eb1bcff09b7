import http from 'node:http';
import net from 'node:net';
import { activeContexts, contextOf, getContext, onRequestContextEnd, requestContext, type RequestContext } from '@keel/lifecycle';
import { closeServer, describeEachExpress, listen } from '@keel/test-support';

// Real sockets on a shared, loaded machine: generous limits, never tight ones.
jest.setTimeout(120_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(condition: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!condition() && Date.now() < until) await sleep(10);
  return condition();
}

/** Counts each context's ends: every context must end exactly once. */
function countEnds() {
  const ends = new Map<RequestContext, number>();
  const remove = onRequestContextEnd((context) => ends.set(context, (ends.get(context) ?? 0) + 1));
  return { ends, remove, endedTwice: () => [...ends.values()].filter((count) => count !== 1).length };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => resolve(socket));
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;

/** Sends a hostile client's bytes on one connection, then resets it after `resetAfterMs`. */
async function hostileClient(port: number, kind: number, resetAfterMs: number): Promise<void> {
  const socket = await connect(port).catch(() => undefined);
  if (socket === undefined) return;
  switch (kind) {
    case 0: // three pipelined requests to a slow route: the 2nd and 3rd wait in Node's queue
      socket.write(request('/slow') + request('/slow') + request('/slow'));
      break;
    case 1: // headers half sent
      socket.write('GET /slow HTTP/1.1\r\nHost: local');
      break;
    case 2: // a body that never finishes
      socket.write('POST /body HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\npart of a body');
      break;
    default: // a fast request, then a pipelined slow one
      socket.write(request('/fast') + request('/slow'));
  }
  await sleep(resetAfterMs);
  socket.resetAndDestroy();
}

describeEachExpress('request context lifetime', ({ express }) => {
  function app(arrived: () => void) {
    const app = express();
    app.use(requestContext());
    app.get('/slow', (_req, res) => {
      arrived();
      setTimeout(() => res.end('slow'), 100);
    });
    app.get('/fast', (_req, res) => {
      arrived();
      res.end('fast');
    });
    app.post('/body', (req, res) => {
      arrived();
      req.on('data', () => undefined);
      req.on('end', () => res.end('read'));
    });
    return app;
  }

  it('ends every context once when clients reset connections with pipelined requests still queued', async () => {
    const { ends, remove, endedTwice } = countEnds();
    let requests = 0;
    const { server } = await listen(app(() => (requests += 1)));
    const { port } = server.address() as net.AddressInfo;
    const baseline = activeContexts().size;
    try {
      const clients = await Promise.all(Array.from({ length: 20 }, () => connect(port)));
      for (const client of clients) client.write(request('/slow') + request('/slow') + request('/slow'));
      // The first request of each connection is in its handler; Node has parsed the two behind it.
      expect(await eventually(() => requests >= 20 && activeContexts().size - baseline >= 60, 30_000)).toBe(true);
      for (const client of clients) client.resetAndDestroy();
      expect(await eventually(() => activeContexts().size === baseline, 30_000)).toBe(true);
      expect(ends.size).toBe(60);
      expect(endedTwice()).toBe(0);
    } finally {
      remove();
      await closeServer(server);
    }
  });

  it('returns activeContexts() to its baseline after 10,000 hostile connections', async () => {
    const { ends, remove, endedTwice } = countEnds();
    const opened = new Set<RequestContext>();
    const { server } = await listen(app(() => opened.add(getContext()!)));
    const { port } = server.address() as net.AddressInfo;
    const baseline = activeContexts().size;
    try {
      const total = 10_000;
      let started = 0;
      const worker = async (): Promise<void> => {
        while (started < total) {
          const i = started++;
          await hostileClient(port, i % 4, i % 7);
        }
      };
      await Promise.all(Array.from({ length: 100 }, worker));
      expect(await eventually(() => activeContexts().size === baseline, 30_000)).toBe(true);
      expect(opened.size).toBeGreaterThan(total / 4);
      // Every context the handlers saw ended, and none twice.
      expect([...opened].filter((context) => !context.ended)).toEqual([]);
      expect([...opened].filter((context) => ends.get(context) !== 1)).toEqual([]);
      expect(endedTwice()).toBe(0);
    } finally {
      remove();
      await closeServer(server);
    }
  });

  it('returns a snapshot from activeContexts(), not a live set', async () => {
    let hold!: () => void;
    const held = new Promise<void>((resolve) => (hold = resolve));
    const seen: RequestContext[] = [];
    const app = express();
    app.use(requestContext());
    app.get('/', (_req, res) => {
      seen.push(getContext()!);
      void held.then(() => res.end('ok'));
    });
    const { server, url } = await listen(app);
    try {
      const done = new Promise((resolve) => http.get(url, { agent: false }, (res) => res.resume().on('end', resolve)));
      while (seen.length === 0) await sleep(5);
      const snapshot = activeContexts();
      expect(snapshot.has(seen[0]!)).toBe(true);
      hold();
      await done;
      expect(await eventually(() => !activeContexts().has(seen[0]!), 20_000)).toBe(true);
      // The earlier snapshot is unchanged, and changing it changes nothing.
      expect(snapshot.has(seen[0]!)).toBe(true);
      (snapshot as Set<RequestContext>).clear();
      expect(activeContexts().has(seen[0]!)).toBe(false);
    } finally {
      await closeServer(server);
    }
  });

  it('ends the context of a request handed to app.handle() with a made-up response (the express-ws pattern) when its upgraded connection closes', async () => {
    const { ends, remove } = countEnds();
    const app = express();
    app.use(requestContext());
    let context: RequestContext | undefined;
    app.get('/socket', (req, _res, next) => {
      context = contextOf(req);
      // A WebSocket route keeps the connection and never answers the made-up response.
      next = () => undefined;
      void next;
    });
    const { server } = await listen(app);
    const { port } = server.address() as net.AddressInfo;
    const upgraded: net.Socket[] = [];
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
      // As a WebSocket library does: it owns the socket now, reads it and handles its errors.
      upgraded.push(socket);
      socket.on('error', () => undefined);
      socket.on('data', () => undefined);
      socket.on('end', () => socket.destroy());
      const response = new http.ServerResponse(req);
      (app as unknown as { handle(req: unknown, res: unknown): void }).handle(req, response);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    });
    const baseline = activeContexts().size;
    try {
      const client = await connect(port);
      client.write('GET /socket HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      expect(await eventually(() => context !== undefined, 20_000)).toBe(true);
      // Still open while the upgraded connection lives: shutdown can reach it.
      expect(activeContexts().has(context!)).toBe(true);
      client.destroy();
      expect(await eventually(() => context!.ended, 20_000)).toBe(true);
      expect(activeContexts().size).toBe(baseline);
      expect(ends.get(context!)).toBe(1);
    } finally {
      remove();
      for (const socket of upgraded) socket.destroy();
      await closeServer(server);
    }
  });
});
