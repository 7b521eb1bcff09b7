import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startFixture } from '@keel/test-support';
import { DEFAULTS } from '@keel/drain';
import { assertBuilt } from './helpers';

const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
const fixture = (name: string): string => path.join(__dirname, 'fixtures', name);
// The examples run with no load balancer: 'auto' means no deregistration delay.
const env = { PORT: '0', ADMIN_PORT: '0', KUBERNETES_SERVICE_HOST: '' };

beforeAll(assertBuilt);

function get(port: number, pathname: string): Promise<{ status?: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: pathname, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      })
      .on('error', (error: NodeJS.ErrnoException) => resolve({ body: '', error: error.code }));
  });
}

describe('README', () => {
  it('documents every option with the default the code uses', () => {
    const rows = new Map<string, string>();
    for (const line of readme.split('\n')) {
      const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim());
      if (cells.length === 4 && /^`\w+`$/.test(cells[0]!)) rows.set(cells[0]!.replace(/`/g, ''), cells[2]!);
    }
    for (const [option, value] of Object.entries(DEFAULTS)) {
      const literal = /^`(.*)`$/.exec(rows.get(option) ?? '')?.[1];
      expect({ option, documented: literal === undefined ? 'missing' : new Function(`return (${literal});`)() }).toEqual({ option, documented: value });
    }
  });

  it.each(['readme-minimal.js', 'readme-example.js'])('shows test/fixtures/%s verbatim', (name) => {
    const blocks = [...readme.matchAll(/<!-- example:start \(test\/fixtures\/([\w.-]+)[^>]*-->\n```js\n([\s\S]*?)```\n<!-- example:end -->/g)];
    expect(blocks.find((block) => block[1] === name)?.[2]).toBe(fs.readFileSync(fixture(name), 'utf8'));
  });

  it('has a minimal example that serves and exits 0 on SIGTERM', async () => {
    const running = startFixture(fixture('readme-minimal.js'), { env, timeoutMs: 15_000 });
    const port = Number(((await running.waitFor(/^listening on \d+$/)) as string).split(' ').pop());
    expect(await get(port, '/')).toMatchObject({ status: 200, body: 'hello' });
    running.kill('SIGTERM');
    const result = await running.exited;
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('has an example that finishes a slow request, ends its stream early, drains both ports and exits 0', async () => {
    const running = startFixture(fixture('readme-example.js'), { env, timeoutMs: 15_000 });
    const port = Number(((await running.waitFor(/^listening on \d+$/)) as string).split(' ').pop());
    let readyz = await get(port, '/readyz');
    for (let tries = 0; readyz.status !== 200 && tries < 100; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      readyz = await get(port, '/readyz');
    }
    expect(readyz.status).toBe(200);
    const events = get(port, '/events');
    const report = get(port, '/report');
    await new Promise((resolve) => setTimeout(resolve, 100));
    running.kill('SIGTERM');

    expect(await report).toMatchObject({ status: 200, body: '{"rows":42}' });
    expect((await events).body).toContain('event: reconnect');
    const result = await running.exited;
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const completes = (result.lines as Array<Record<string, unknown>>).filter((line) => line.message === 'drain: complete');
    expect(completes.map((line) => [line.server, line.clean])).toEqual(expect.arrayContaining([['app', true], ['admin', true]]));
    expect(completes).toHaveLength(2);
  });
});
