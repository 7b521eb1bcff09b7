import http from 'node:http';

/** What a client saw: an answer, or the error that ended the exchange. */
export interface Exchange {
  status?: number;
  headers?: http.IncomingHttpHeaders;
  body?: string;
  /** Milliseconds from sending to the end of the body (or the error). */
  ms: number;
  /** How many pieces the body arrived in. */
  pieces: number;
  /** The error code when the exchange failed: ECONNRESET, TRUNCATED, TIMEOUT... */
  error?: string;
}

/** One GET on its own connection; never rejects. */
export function get(url: string, path: string, headers: Record<string, string> = {}, timeoutMs = 3000): Promise<Exchange> {
  const startedAt = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const settle = (exchange: Omit<Exchange, 'ms'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...exchange, ms: Date.now() - startedAt });
    };
    const req = http.get(`${url}${path}`, { agent: false, headers }, (res) => {
      let body = '';
      let pieces = 0;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        pieces++;
      });
      res.on('end', () => settle({ status: res.statusCode, headers: res.headers, body, pieces }));
      res.on('error', (error: NodeJS.ErrnoException) => settle({ status: res.statusCode, headers: res.headers, body, pieces, error: error.code ?? 'TRUNCATED' }));
      res.on('close', () => settle({ status: res.statusCode, headers: res.headers, body, pieces, error: 'TRUNCATED' }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => settle({ pieces: 0, error: error.code ?? error.message }));
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('no answer'), { code: 'TIMEOUT' })));
  });
}
