// Runs every package's tests on each Node line other than the one `npm test`
// runs on: 22, 24 and 26 by default (KEEL_NODE_MATRIX=20,22,24,26 chooses),
// from the `node@<major>` npm packages in scripts/node-matrix, installed there
// on first use so their `node` binaries never shadow the default Node in
// node_modules/.bin. The packages are found in packages/, so a new one joins by
// itself; the docs, proof and repo projects run once, in `npm test`, because
// what differs between Node lines (server.close(), keep-alive,
// AsyncLocalStorage) is the packages' business. Jest options given are added
// (e.g. --maxWorkers=1); a --selectProjects, or a test path (with a `/` or
// ending in .ts), replaces the choice.
// Usage: node scripts/test-node-matrix.js [jest args...]
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');
const { nodeBinary, parseNodeLine } = require('./node-lines');

const root = path.resolve(__dirname, '..');
const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
let lines;
try {
  lines = (process.env.KEEL_NODE_MATRIX || '22,24,26').split(',').filter(Boolean).map(parseNodeLine);
} catch (error) {
  console.error(`[node-matrix] KEEL_NODE_MATRIX: ${error.message.replace(/^--node /, 'each line ')}`);
  process.exit(1);
}
let failed = false;
const packageProjects = fs
  .readdirSync(path.join(root, 'packages'))
  .filter((name) => fs.existsSync(path.join(root, 'packages', name, 'package.json')))
  .map((name) => `@keel/${name}`);
const given = process.argv.slice(2);
const choosesTests = given.some((arg) => arg === '--selectProjects' || (!arg.startsWith('-') && /[/\\]|\.ts$/.test(arg)));
const jestArgs = choosesTests ? given : ['--selectProjects', ...packageProjects, ...given];

// Every binary first, so a failed install stops the run before any test.
const binaries = lines.map((major) => nodeBinary(major, (message) => console.log(message)));

for (const binary of binaries) {
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
