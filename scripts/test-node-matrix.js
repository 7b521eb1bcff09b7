// Runs the whole jest suite once on each Node major that ships as an npm package
// (node22, node24 in scripts/node-matrix, installed there on first use so their
// `node` binaries never shadow the default Node in node_modules/.bin).
// By default it runs the six packages' projects, where Node versions differ
// (server.close(), keep-alive, AsyncLocalStorage); the docs, proof and repo
// projects run on the default Node. Pass jest args to choose otherwise.
// Usage: node scripts/test-node-matrix.js [jest args...]
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');

const root = path.resolve(__dirname, '..');
const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
const matrixDir = path.join(__dirname, 'node-matrix');
const majors = (process.env.KEEL_NODE_MATRIX || 'node22,node24').split(',').filter(Boolean);
let failed = false;
const packageProjects = fs
  .readdirSync(path.join(root, 'packages'))
  .filter((name) => fs.existsSync(path.join(root, 'packages', name, 'package.json')))
  .map((name) => `@keel/${name}`);
const jestArgs = process.argv.length > 2 ? process.argv.slice(2) : ['--selectProjects', ...packageProjects];

if (majors.some((name) => !fs.existsSync(path.join(matrixDir, 'node_modules', name, 'bin', 'node')))) {
  console.log('[node-matrix] installing the Node binaries from the npm registry (once)');
  const install = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: matrixDir, stdio: 'inherit' });
  if (install.status !== 0) process.exit(1);
}

for (const name of majors) {
  const binary = path.join(matrixDir, 'node_modules', name, 'bin', 'node');
  if (!fs.existsSync(binary)) {
    console.error(`[node-matrix] ${name} is missing after install: see scripts/node-matrix/package.json`);
    process.exit(1);
  }
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`\n[node-matrix] jest on Node ${version}`);
  const run = spawnSync(binary, [jest, '--ci', ...jestArgs], {
    cwd: root,
    stdio: 'inherit',
    // Child processes spawned by tests use process.execPath, so they run on this Node too.
    env: { ...process.env, PATH: `${path.dirname(binary)}${path.delimiter}${process.env.PATH}` },
  });
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
