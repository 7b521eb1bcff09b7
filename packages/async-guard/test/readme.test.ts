import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { DEFAULTS } from '@keel/async-guard';
import { startFixture } from '@keel/test-support';
import { assertBuilt, fixture } from './built';

const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');

/** The rows of the README's options table: option name and the default cell as written. */
function optionRows(): Array<{ option: string; defaultCell: string }> {
  const lines = readme.split('\n');
  const start = lines.findIndex((line) => line.trim() === '| option | type | default | description |');
  const rows: Array<{ option: string; defaultCell: string }> = [];
  for (let index = start + 2; start !== -1 && index < lines.length && lines[index]!.startsWith('|'); index += 1) {
    // Split on pipes not escaped as \| inside cells.
    const cells = lines[index]!.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim());
    rows.push({ option: cells[0]!.replace(/`/g, ''), defaultCell: cells[2]! });
  }
  return rows;
}

function get(port: number, pathname: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: pathname, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(body) }));
      })
      .on('error', reject);
  });
}

describe('README', () => {
  it('documents every option of installProcessGuards() with the default the code uses', () => {
    const rows = optionRows();
    expect(rows.map((row) => row.option)).toEqual(['onUncaughtException', 'onUnhandledRejection', 'respond', 'exit', 'lifecycle', 'logger']);
    for (const [option, value] of Object.entries(DEFAULTS)) {
      const literal = /^`(.*)`$/.exec(rows.find((row) => row.option === option)!.defaultCell)?.[1];
      expect({ option, documented: literal === undefined ? undefined : new Function(`return (${literal});`)() }).toEqual({ option, documented: value });
    }
  });

  it('shows the example from test/fixtures/readme-example.js, verbatim', () => {
    const block = /<!-- example:start[^>]*-->\n```js\n([\s\S]*?)```\n<!-- example:end -->/.exec(readme)?.[1];
    expect(block).toBe(fs.readFileSync(fixture('readme-example.js'), 'utf8'));
  });

  it('has an example that answers 404 through the error handler, 500 for a timer throw, then exits 1', async () => {
    assertBuilt();
    const running = startFixture(fixture('readme-example.js'), { env: { PORT: '0' } });
    const listening = (await running.waitFor(/^listening on \d+$/)) as string;
    const port = Number(listening.split(' ').pop());
    expect(await get(port, '/users/1')).toEqual({ status: 200, body: { id: '1', name: 'Ada' } });
    expect(await get(port, '/users/2')).toEqual({ status: 404, body: { error: 'no such user' } });
    expect(await get(port, '/report')).toEqual({ status: 500, body: { error: 'Internal Server Error' } });
    const result = await running.exited;
    expect(result.code).toBe(1);
    expect(result.lines).toContainEqual(expect.objectContaining({ message: 'uncaught exception', path: '/report', response: 'error-handler' }));
  });
});
