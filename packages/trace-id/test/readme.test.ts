import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeServer, describeEachExpress, listen, startFixture } from '@keel/test-support';

// Child processes, real sockets and thousands of log lines: slow on a busy machine.
jest.setTimeout(30_000);

// The fixture loads the built package (dist/): run `npm run build` first.
const example = join(__dirname, 'fixtures', 'readme-usage.js');
const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');

function region(source: string, name: string): string {
  const lines = source.split('\n');
  const start = lines.findIndex((line) => line.trim() === `// #region ${name}`);
  const end = lines.findIndex((line) => line.trim() === `// #endregion ${name}`);
  return lines.slice(start + 1, end).join('\n');
}

describe('README', () => {
  it('shows the usage example exactly as the tested program has it', () => {
    const code = region(readFileSync(example, 'utf8'), 'usage');
    expect(code.length).toBeGreaterThan(0);
    expect(readme).toContain(['```js', code, '```'].join('\n'));
  });
});

describeEachExpress('the README usage example', ({ major }) => {
  it('logs with the ID, propagates it to the stock service, and flushes on SIGTERM', async () => {
    const calls: Array<Record<string, string | string[] | undefined>> = [];
    const { server: stock, url } = await listen((req, res) => {
      calls.push(req.headers);
      res.setHeader('content-type', 'application/json');
      res.end('{"available":3}');
    });
    try {
      const env: NodeJS.ProcessEnv = { STOCK_URL: url, PORT: '0' };
      if (major === 4) env.NODE_OPTIONS = `--require ${join(__dirname, 'fixtures', 'use-express4.js')}`;
      const app = startFixture(example, { env });
      const { listening } = (await app.waitFor((line) => typeof line === 'object' && line !== null && 'listening' in line)) as { listening: number };
      const response = await fetch(`http://127.0.0.1:${listening}/orders/7`, { headers: { 'X-Request-ID': 'order-7-req' } });
      const body = (await response.json()) as { traceId: string };
      expect(body).toEqual({ orderId: '7', stock: { available: 3 }, traceId: expect.stringMatching(/^[0-9a-f]{32}$/) });
      expect(response.headers.get('x-request-id')).toBe('order-7-req');
      expect(calls).toHaveLength(1);
      expect(calls[0]!['x-request-id']).toBe('order-7-req');
      expect(calls[0]!.traceparent).toMatch(new RegExp(`^00-${body.traceId}-[0-9a-f]{16}-01$`));
      const logged = await app.waitFor((line) => (line as { message?: unknown } | null)?.message === 'loading order');
      expect(logged).toMatchObject({ service: 'orders', orderId: '7', requestId: 'order-7-req', traceId: body.traceId, spanId: expect.stringMatching(/^[0-9a-f]{16}$/) });
      // The call's parent is a span of its own, child of the logged one.
      expect((calls[0]!.traceparent as string).slice(36, 52)).not.toBe((logged as { spanId: string }).spanId);
      app.kill('SIGTERM');
      const result = await app.exited;
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
    } finally {
      await closeServer(stock);
    }
  });
});
