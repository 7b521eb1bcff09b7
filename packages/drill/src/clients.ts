import http from 'node:http';
import https from 'node:https';

/** The clients a drill drives: a keep-alive node:http(s) Agent, an undici Pool, or an Agent that opens a connection per request. */
export const CLIENT_KINDS = Object.freeze(['agent', 'undici', 'no-keep-alive'] as const);

/** A client of the drill. */
export type ClientKind = (typeof CLIENT_KINDS)[number];

/**
 * How one request ended: `completed` (2xx or 3xx with the whole body, which
 * names the request's ID when its URL carries one), `errorStatus` (any other
 * answer), `refused` (the connection was refused: the request never left the
 * client), `lost` (sent, then reset, hung up, truncated or unanswered in time),
 * `resetUnaccepted` (reset on a connection the server says it never accepted),
 * `faultAnswered` (a request carrying a chaos trigger, answered in full).
 */
export type Outcome = 'completed' | 'errorStatus' | 'refused' | 'lost' | 'resetUnaccepted' | 'faultAnswered';

/** What {@link DrillClient.send} resolves with; it never rejects. */
export interface SendResult {
  outcome: Outcome;
  /** The error code, or the status as a string for an error status. */
  code?: string;
  /** The start of an error answer's body, to tell a proxy's answer from the app's. */
  detail?: string;
  /** The client port of the connection, to match it with the ports the server accepted. */
  localPort?: number;
  /** The fault the app says it injected (`x-keel-chaos-injected`). */
  injected?: string;
}

/** One client of the drill, sending over its own pool of connections. */
export interface DrillClient {
  /** Sends `GET path`; `id` is checked in the body when the path carries it. */
  send(path: string, id: string, headers?: Record<string, string>): Promise<SendResult>;
  /** Closes every connection. */
  close(): Promise<void>;
}

/** Options of {@link createClient}. */
export interface ClientOptions {
  port: number;
  host?: string;
  tls?: boolean;
  connections?: number;
  requestTimeoutMs?: number;
}

/** `refused` only when the connection was refused: the request never left the client. */
export function classifyError(error: unknown): { outcome: 'refused' | 'lost'; code: string } {
  const failure = error as { code?: string; cause?: { code?: string } } | undefined;
  const code = failure?.code ?? failure?.cause?.code ?? 'UNKNOWN';
  return { outcome: code === 'ECONNREFUSED' ? 'refused' : 'lost', code };
}

/** True when `body` names request `id` as a word of its own (so `7-1` is not found in `7-12`). */
export function bodyNames(body: string, id: string): boolean {
  let at = body.indexOf(id);
  while (at !== -1) {
    const before = at === 0 ? '' : body[at - 1]!;
    const after = body[at + id.length] ?? '';
    if (!/[\w-]/.test(before) && !/[\w-]/.test(after)) return true;
    at = body.indexOf(id, at + 1);
  }
  return false;
}

function answer(status: number, body: string, path: string, id: string, injected: string | undefined): SendResult {
  const base = injected === undefined ? {} : { injected };
  if (status < 200 || status >= 400) return { ...base, outcome: 'errorStatus', code: String(status), detail: body.slice(0, 200) };
  // Only a path that carries the ID asks for it back.
  if (path.includes(encodeURIComponent(id)) && !bodyNames(body, id)) return { ...base, outcome: 'lost', code: 'BAD_BODY' };
  return { ...base, outcome: 'completed' };
}

function injectedHeader(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value.slice(0, 64) : undefined;
}

function agentClient({ port, host = '127.0.0.1', tls = false, connections = 20, requestTimeoutMs = 8000 }: ClientOptions, keepAlive: boolean): DrillClient {
  const mod = tls ? https : http;
  const agent = new mod.Agent({ keepAlive, maxSockets: connections, rejectUnauthorized: false } as https.AgentOptions);
  return {
    send(path, id, headers = {}) {
      return new Promise((resolve) => {
        let settled = false;
        let localPort: number | undefined;
        const settle = (result: SendResult) => {
          if (settled) return;
          settled = true;
          resolve(localPort === undefined || result.outcome !== 'lost' ? result : { ...result, localPort });
        };
        const req = mod.request({ host, port, path, agent, method: 'GET', headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => settle(answer(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), path, id, injectedHeader(res.headers['x-keel-chaos-injected']))));
          res.on('error', (error: NodeJS.ErrnoException) => settle({ outcome: 'lost', code: `TRUNCATED_${error.code ?? error.message}` }));
          res.on('close', () => settle({ outcome: 'lost', code: 'TRUNCATED' }));
        });
        req.on('socket', (socket) => {
          if (socket.localPort !== undefined) localPort = socket.localPort;
          else socket.once('connect', () => (localPort = socket.localPort));
        });
        req.on('error', (error) => settle(classifyError(error)));
        req.setTimeout(requestTimeoutMs, () => req.destroy(Object.assign(new Error('no answer in time'), { code: 'HANG' })));
        req.end();
      });
    },
    close: async () => agent.destroy(),
  };
}

function undiciClient({ port, host = '127.0.0.1', tls = false, connections = 20, requestTimeoutMs = 8000 }: ClientOptions): DrillClient {
  // Loaded only when this client runs.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Pool } = require('undici') as typeof import('undici');
  const pool = new Pool(`${tls ? 'https' : 'http'}://${host}:${port}`, {
    connections,
    pipelining: 1,
    headersTimeout: requestTimeoutMs,
    bodyTimeout: requestTimeoutMs,
    ...(tls ? { connect: { rejectUnauthorized: false } } : {}),
  });
  return {
    async send(path, id, headers = {}) {
      try {
        const { statusCode, body, headers: responseHeaders } = await pool.request({ path, method: 'GET', headers });
        const text = await body.text();
        return answer(statusCode, text, path, id, injectedHeader(responseHeaders['x-keel-chaos-injected']));
      } catch (error) {
        return classifyError(error);
      }
    },
    close: async () => {
      await pool.destroy().catch(() => {});
    },
  };
}

/**
 * A client of `kind`. `send(path, id)` never rejects: it resolves with the
 * request's outcome and, for a failure, its code.
 */
export function createClient(kind: ClientKind, options: ClientOptions): DrillClient {
  if (kind === 'undici') return undiciClient(options);
  return agentClient(options, kind !== 'no-keep-alive');
}
