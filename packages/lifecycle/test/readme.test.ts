import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { CLS_HOOKED_DEFAULTS, DEFAULTS, PROBES_DEFAULTS } from '@keel/lifecycle';
import { startFixture } from '@keel/test-support';
import { assertBuilt, fixture } from './built';

// Real processes and sockets on a shared, loaded machine: generous limits, never tight ones.
jest.setTimeout(30_000);

const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');

/** The option tables of the README, each with the heading it sits under. */
function optionTables(): Array<{ heading: string; rows: Array<{ option: string; defaultCell: string }> }> {
  const tables: Array<{ heading: string; rows: Array<{ option: string; defaultCell: string }> }> = [];
  let heading = '';
  const lines = readme.split('\n');
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index]!;
    if (line.startsWith('#')) heading = line.replace(/^#+\s*/, '');
    if (line.trim() !== '| option | type | default | description |') continue;
    const rows: Array<{ option: string; defaultCell: string }> = [];
    for (index += 2; index < lines.length && lines[index]!.startsWith('|'); index += 1) {
      // Split on pipes not escaped as \| inside cells.
      const cells = lines[index]!.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim());
      rows.push({ option: cells[0]!.replace(/`/g, ''), defaultCell: cells[2]! });
    }
    tables.push({ heading, rows });
  }
  return tables;
}

function get(port: number, pathname: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: pathname, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

describe('README', () => {
  it.each([
    ['createLifecycle(options)', DEFAULTS],
    ['Probes: `probes(options)`', PROBES_DEFAULTS],
    ['The cls-hooked backend', CLS_HOOKED_DEFAULTS],
  ] as const)('documents every option of %s with the default the code uses', (heading, defaults) => {
    const table = optionTables().find((candidate) => candidate.heading.includes(heading));
    expect(table).toBeDefined();
    for (const [option, value] of Object.entries(defaults)) {
      const row = table!.rows.find((candidate) => candidate.option === option);
      expect(row).toBeDefined();
      const literal = /^`(.*)`$/.exec(row!.defaultCell)?.[1];
      expect(literal).toBeDefined();
      expect({ option, documented: new Function(`return (${literal});`)() }).toEqual({ option, documented: value });
    }
  });

  it('shows the example from test/fixtures/readme-example.js, verbatim', () => {
    const block = /<!-- example:start[^>]*-->\n```js\n([\s\S]*?)```\n<!-- example:end -->/.exec(readme)?.[1];
    expect(block).toBe(fs.readFileSync(fixture('readme-example.js'), 'utf8'));
  });

  it('has an example that serves, probes, and shuts down cleanly on SIGTERM', async () => {
    assertBuilt();
    const running = startFixture(fixture('readme-example.js'), { env: { PORT: '0' } });
    const listening = (await running.waitFor(/^listening on \d+$/)) as string;
    const port = Number(listening.split(' ').pop());
    let readyz = await get(port, '/readyz');
    for (let tries = 0; readyz.status !== 200 && tries < 100; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      readyz = await get(port, '/readyz');
    }
    expect(readyz.status).toBe(200);
    const hello = await get(port, '/hello');
    expect(hello.status).toBe(200);
    expect(JSON.parse(hello.body).since).toBeGreaterThanOrEqual(9);
    running.kill('SIGTERM');
    const { code, lines } = await running.exited;
    expect(code).toBe(0);
    expect(lines.filter((line) => typeof line === 'string' && line !== '' && !line.startsWith('listening'))).toEqual(['worker stopped; state saved', 'logs flushed']);
    const report = (lines.find((line) => (line as { message?: string }).message === 'shutdown complete') as { report: any }).report;
    expect(report).toMatchObject({ reason: 'SIGTERM', exitCode: 0, unreleasedBeacons: [] });
    expect(report.phases.map((phase: { hooks: Array<{ name: string }> }) => phase.hooks.map((hook) => hook.name))).toEqual([['http-server'], ['worker-state'], ['flush-logs']]);
  });
});
