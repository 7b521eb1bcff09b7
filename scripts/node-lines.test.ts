import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CURRENT_LTS, ENGINES_RANGE, JUDGED_LINES, JUDGED_TEXT, SUPPORTED_LINES, SUPPORTED_TEXT, parseNodeLine } from './node-lines';

const root = path.resolve(__dirname, '..');
const packageDirs = fs
  .readdirSync(path.join(root, 'packages'))
  .filter((name) => fs.existsSync(path.join(root, 'packages', name, 'package.json')))
  .map((name) => path.join('packages', name));
const currentMajor = Number(process.versions.node.split('.')[0]);
const fixture = path.join(__dirname, 'fixtures', 'print-node-line.js');

function runFixture(line: string): { status: number | null; printed: { version: string; args: string[]; child: string | null }; stderr: string } {
  const run = spawnSync(process.execPath, [fixture, line, 'extra'], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, KEEL_NODE_LINE: '' } });
  const last = run.stdout.trim().split('\n').pop() ?? '';
  return { status: run.status, printed: last ? JSON.parse(last) : null, stderr: run.stderr };
}

describe('the supported Node lines', () => {
  it('reads a --node value as a supported major, and rejects any other naming the lines', () => {
    expect([parseNodeLine('26'), parseNodeLine('v24'), parseNodeLine('node22'), parseNodeLine(20)]).toEqual([26, 24, 22, 20]);
    for (const bad of ['19', '21', '27', 'lts', '']) expect(() => parseNodeLine(bad)).toThrow(`--node must be one of 20, 22, 24, 26; got ${JSON.stringify(bad)}`);
    expect(JUDGED_LINES).toContain(CURRENT_LTS);
    expect(SUPPORTED_LINES).toEqual(expect.arrayContaining([...JUDGED_LINES]));
  });

  it('gives the root and every package the same engines range, one entry per supported line', () => {
    expect(ENGINES_RANGE.split('||').map((range) => Number(range.trim().replace(/^\^/, '').split('.')[0]))).toEqual([...SUPPORTED_LINES]);
    for (const dir of ['.', ...packageDirs]) {
      const manifest = JSON.parse(fs.readFileSync(path.join(root, dir, 'package.json'), 'utf8'));
      expect({ dir, engines: manifest.engines }).toEqual({ dir, engines: { node: ENGINES_RANGE } });
    }
  });

  it('states the lines, and those the benchmarks are judged on, in the README, the getting-started page and each package README', () => {
    const pages = ['README.md', 'docs/getting-started.md', ...packageDirs.map((dir) => path.join(dir, 'README.md'))].filter((file) => fs.existsSync(path.join(root, file)));
    expect(pages.length).toBeGreaterThanOrEqual(8);
    for (const page of pages) {
      const text = fs.readFileSync(path.join(root, page), 'utf8').replace(/\s+/g, ' ');
      expect({ page, supported: text.includes(SUPPORTED_TEXT), judged: text.includes(JUDGED_TEXT) }).toEqual({ page, supported: true, judged: true });
    }
  });

  it('runs the rest of a script on another line, with its arguments and its exit code', () => {
    const others = SUPPORTED_LINES.filter((major) => major !== currentMajor);
    // A line already installed in scripts/node-matrix if there is one; otherwise the first use installs it.
    const other = others.find((major) => fs.existsSync(path.join(__dirname, 'node-matrix', 'node_modules', `node${major}`, 'bin', 'node'))) ?? others[0]!;
    const { status, printed, stderr } = runFixture(String(other));
    expect({ status, stderr }).toEqual({ status: 3, stderr: expect.any(String) });
    expect(printed.version).toMatch(new RegExp(`^v${other}\\.`));
    expect(printed.args).toEqual([String(other), 'extra']);
    expect(printed.child).toBe(String(other));
  }, 150_000);

  it('stays in the running process when it is of the line asked for', () => {
    if (!SUPPORTED_LINES.includes(currentMajor)) throw new Error(`the tests run on Node ${process.version}, not a supported line`);
    const { status, printed } = runFixture(String(currentMajor));
    expect(status).toBe(3);
    expect(printed).toEqual({ version: process.version, args: [String(currentMajor), 'extra'], child: '' });
  });
});
