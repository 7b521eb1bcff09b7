import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createScratchApp, type ScratchApp } from './scratch-app';
import { requestChecks } from './packaging-request-checks';

// What a user gets from `npm install @keel/<name>`: the packed tarball, installed
// into an app outside the repo, loaded from CommonJS, ESM and TypeScript.

const root = path.resolve(__dirname, '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const packageNames = fs.readdirSync(path.join(root, 'packages')).filter((name) => fs.existsSync(path.join(root, 'packages', name, 'package.json')));

function run(file: string, args: string[], cwd: string): string {
  try {
    return execFileSync(file, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string };
    throw new Error(`${path.basename(file)} ${args.join(' ')} failed:\n${failure.stdout ?? ''}${failure.stderr ?? ''}`);
  }
}

/** The runtime export names of a package, as the repo's own build has them. */
function builtExportNames(name: string): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return Object.keys(require(path.join(root, 'packages', name, 'dist', 'index.js'))).filter((key) => key !== '__esModule').sort();
}

let app: ScratchApp;

beforeAll(() => {
  app = createScratchApp({ express: '^5.1.0', express4: 'npm:express@^4.21.2', '@types/express': '^5.0.0', '@types/node': '^20.0.0' });
}, 240_000);

afterAll(() => app?.remove());

describe.each(packageNames)('the packed @keel/%s', (name) => {
  const specifier = `@keel/${name}`;

  it('installs from its tarball with only the files a user needs', () => {
    const installed = path.join(app.dir, 'node_modules', '@keel', name);
    expect(fs.existsSync(path.join(installed, 'dist', 'index.js'))).toBe(true);
    expect(fs.existsSync(path.join(installed, 'dist', 'index.d.ts'))).toBe(true);
    expect(fs.existsSync(path.join(installed, 'README.md'))).toBe(true);
    expect(fs.existsSync(path.join(installed, 'src'))).toBe(false);
    expect(fs.existsSync(path.join(installed, 'test'))).toBe(false);
  });

  it('loads with require() and exposes the same exports as the build', () => {
    const output = run(process.execPath, ['-e', `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(specifier)})).filter((k) => k !== '__esModule').sort()))`], app.dir);
    expect(JSON.parse(output)).toEqual(builtExportNames(name));
  });

  it('loads named exports with import from an .mjs file', () => {
    const names = builtExportNames(name);
    const file = path.join(app.dir, `import-${name}.mjs`);
    fs.writeFileSync(file, `import { ${names.join(', ')} } from '${specifier}';\nconst missing = Object.entries({ ${names.join(', ')} }).filter(([, value]) => value === undefined).map(([key]) => key);\nif (missing.length) { console.error('undefined:', missing); process.exit(1); }\nconsole.log('ok');\n`);
    expect(run(process.execPath, [file], app.dir).trim()).toBe('ok');
  });

  it.each([
    ['node16', { module: 'node16', moduleResolution: 'node16' }],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }],
  ])('type-checks in a TypeScript consumer with moduleResolution %s', (label, resolution) => {
    const dir = path.join(app.dir, `ts-${name}-${label}`);
    fs.mkdirSync(dir, { recursive: true });
    const names = builtExportNames(name);
    fs.writeFileSync(path.join(dir, 'consumer.ts'), `import { ${names.join(', ')} } from '${specifier}';\nimport type * as Api from '${specifier}';\nexport const used: unknown[] = [${names.join(', ')}];\nexport type Surface = keyof typeof Api;\n`);
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { ...resolution, target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [path.join(app.dir, 'node_modules', '@types')] }, files: ['consumer.ts'] }),
    );
    run(process.execPath, [tsc, '-p', dir], app.dir);
  });

  it('answers a real request through its middleware in the scratch app', () => {
    const check = requestChecks[name];
    if (check === undefined) throw new Error(`scripts/packaging-request-checks.ts has no request check for @keel/${name}`);
    const file = path.join(app.dir, `request-${name}.js`);
    fs.writeFileSync(file, check);
    expect(run(process.execPath, [file], app.dir).trim().split('\n').pop()).toBe('ok');
  });

  it('passes publint and @arethetypeswrong/cli', () => {
    const packed = app.packages.find((entry) => entry.name === specifier);
    expect(packed).toBeDefined();
    run(process.execPath, [path.join(root, 'node_modules', 'publint', 'src', 'cli.js'), 'run', '--strict', path.join(root, 'packages', name)], root);
    run(process.execPath, [path.join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js'), packed!.tarball, '--profile', 'node16'], root);
  });
});

// keel-drill as a user runs it: `npx keel-drill` from the packed @keel/drill's bin, against
// an app built from the packed packages, and against an app that exits on SIGTERM.
describe('npx keel-drill from the packed @keel/drill', () => {
  const keelApp = `const { createLifecycle, setDefaultLifecycle, probes } = require('@keel/lifecycle');
const { drainOnShutdown } = require('@keel/drain');
const express = require('express');
setDefaultLifecycle(createLifecycle({ exit: true, preStopDelay: 0, shutdownTimeout: 5000, logger: { info() {}, warn() {}, error: console.error } }));
const app = express();
app.use(probes());
app.get('/work', (req, res) => setTimeout(() => res.send('done ' + req.query.id), Number(req.query.ms) || 0));
drainOnShutdown(app.listen(Number(process.env.PORT), '127.0.0.1'));
`;
  const naiveApp = `const express = require('express');
const app = express();
app.get('/work', (req, res) => setTimeout(() => res.send('done ' + req.query.id), Number(req.query.ms) || 0));
app.listen(Number(process.env.PORT), '127.0.0.1');
`;

  function drill(file: string): { status: number | null; results: { failures: string[]; single: Array<{ counts: { lost: number; completed: number } }> } } {
    const args = ['--no-install', 'keel-drill', '--start', `node ${file}`, '--url', '/work?id={id}', '--slow-url', '/work?id={id}&ms={ms}', '--shutdowns', '1', '--clients', 'agent', '--connections', '8', '--warmup', '400', '--json', '--no-progress'];
    const run = spawnSync('npx', args, { cwd: app.dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, npm_config_update_notifier: 'false' } });
    if (!run.stdout.trim().startsWith('{')) throw new Error(`npx keel-drill printed no results (exit ${run.status}):\n${run.stdout}${run.stderr}`);
    return { status: run.status, results: JSON.parse(run.stdout) };
  }

  it('reports 0 lost and exits 0 for a keel app', () => {
    fs.writeFileSync(path.join(app.dir, 'keel-app.js'), keelApp);
    const { status, results } = drill('keel-app.js');
    expect({ status, failures: results.failures }).toEqual({ status: 0, failures: [] });
    expect(results.single[0]!.counts.completed).toBeGreaterThan(0);
  }, 70_000);

  it('reports the losses of a naive app and exits 1', () => {
    fs.writeFileSync(path.join(app.dir, 'naive-app.js'), naiveApp);
    const { status, results } = drill('naive-app.js');
    expect(status).toBe(1);
    expect(results.single[0]!.counts.lost).toBeGreaterThan(0);
  }, 70_000);
});
