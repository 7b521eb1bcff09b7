import { execFileSync } from 'node:child_process';
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
