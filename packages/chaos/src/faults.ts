import type { IncomingMessage, ServerResponse } from 'node:http';
import { ChaosFaultError } from './errors';
import type { ResolvedChaosRule } from './options';

/** Express's `next`. */
export type NextFunction = (error?: unknown) => void;

type Callback = (error?: Error | null) => void;
type Write = (this: ServerResponse, chunk: Buffer, callback?: Callback) => boolean;
type End = (this: ServerResponse, chunk?: Buffer) => ServerResponse;

/**
 * Holds back everything the app writes to `res` and hands the whole body to
 * `deliver` at `res.end()`, with the original `write` and `end` restored.
 */
function holdBody(res: ServerResponse, deliver: (body: Buffer, write: Write, end: End) => void): void {
  const write = res.write as unknown as Write;
  const end = res.end as unknown as End;
  const chunks: Buffer[] = [];
  const collect = (chunk: unknown, encoding: unknown): void => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    chunks.push(Buffer.isBuffer(chunk) ? chunk : typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : Buffer.from(chunk as Uint8Array));
  };
  res.write = function heldWrite(this: ServerResponse, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    collect(chunk, encoding);
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') process.nextTick(done as Callback);
    return true;
  } as ServerResponse['write'];
  res.end = function heldEnd(this: ServerResponse, chunk?: unknown, encoding?: unknown, callback?: unknown): ServerResponse {
    collect(chunk, encoding);
    res.write = write as unknown as ServerResponse['write'];
    res.end = end as unknown as ServerResponse['end'];
    const done = [chunk, encoding, callback].find((item) => typeof item === 'function') as Callback | undefined;
    if (done) res.once('finish', () => done());
    deliver(Buffer.concat(chunks), write, end);
    return res;
  } as ServerResponse['end'];
}

/** True when the response may carry a body (not HEAD, 204 or 304). */
function hasBody(req: IncomingMessage, res: ServerResponse): boolean {
  return req.method !== 'HEAD' && res.statusCode !== 204 && res.statusCode !== 304;
}

/** Sends half of the app's body, then closes the connection: the client sees a body shorter than announced. */
function cutBody(req: IncomingMessage, res: ServerResponse): void {
  holdBody(res, (body, write, end) => {
    if (!hasBody(req, res)) return void end.call(res);
    if (!res.headersSent) res.setHeader('content-length', body.length);
    const cut = () => res.socket?.destroy();
    const half = body.subarray(0, Math.floor(body.length / 2));
    if (half.length === 0) {
      res.flushHeaders();
      setImmediate(cut);
    } else {
      write.call(res, half, cut);
    }
  });
}

/** Sends the app's body in `chunks` pieces spread over `delay` ms. */
function slowBody(req: IncomingMessage, res: ServerResponse, rule: ResolvedChaosRule): void {
  holdBody(res, (body, write, end) => {
    if (!hasBody(req, res) || body.length === 0) return void end.call(res, body);
    if (!res.headersSent) res.setHeader('content-length', body.length);
    const size = Math.ceil(body.length / rule.chunks);
    const interval = rule.delay / rule.chunks;
    let offset = 0;
    let timer: NodeJS.Timeout | undefined;
    const stop = () => clearTimeout(timer);
    res.once('close', stop);
    const step = () => {
      if (res.destroyed) return;
      const piece = body.subarray(offset, offset + size);
      offset += size;
      if (offset >= body.length) {
        res.off('close', stop);
        end.call(res, piece);
      } else {
        write.call(res, piece);
        timer = setTimeout(step, interval);
      }
    };
    step();
  });
}

/**
 * Injects `rule`'s fault into one request. Runs inside the request's context,
 * so timers and promises it leaves behind belong to the request.
 */
export function injectFault(rule: ResolvedChaosRule, req: IncomingMessage, res: ServerResponse, next: NextFunction, random: () => number): void | Promise<void> {
  const error = () => new ChaosFaultError(rule.fault, rule.name, rule.fault === 'error' ? rule.status : 500);
  switch (rule.fault) {
    case 'latency': {
      const timer = setTimeout(() => {
        res.off('close', cancel);
        // The app may have answered meanwhile (a deadline, a shutdown): then the chain stops here.
        if (!res.headersSent && !res.writableEnded) next();
      }, rule.delay + Math.floor(random() * rule.jitter));
      const cancel = () => clearTimeout(timer);
      res.once('close', cancel);
      return;
    }
    case 'error':
      return next(error());
    case 'throw':
      throw error();
    case 'reject':
      return Promise.resolve().then(() => {
        throw error();
      });
    case 'timer-throw':
      setTimeout(() => {
        throw error();
      }, rule.delay);
      return;
    case 'unhandled-rejection':
      setTimeout(() => {
        void Promise.reject(error());
      }, rule.delay);
      return;
    case 'hang':
      return;
    case 'reset':
      req.socket.resetAndDestroy();
      return;
    case 'cut-body':
      cutBody(req, res);
      return next();
    case 'slow-body':
      slowBody(req, res, rule);
      return next();
  }
}
