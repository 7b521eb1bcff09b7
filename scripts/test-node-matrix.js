// Runs the whole jest suite once on each Node major that ships as an npm package
// (node22, node24 in devDependencies), after the default Node's own run.
// Usage: node scripts/test-node-matrix.js [jest args...]
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');

const root = path.resolve(__dirname, '..');
const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
const majors = (process.env.KEEL_NODE_MATRIX || 'node22,node24').split(',').filter(Boolean);
let failed = false;

for (const name of majors) {
  const binary = path.join(root, 'node_modules', name, 'bin', 'node');
  if (!fs.existsSync(binary)) {
    console.error(`[node-matrix] ${name} is missing: run \`npm ci\` (it installs ${name} from the npm registry).`);
    process.exit(1);
  }
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`\n[node-matrix] jest on Node ${version}`);
  const run = spawnSync(binary, [jest, '--ci', ...process.argv.slice(2)], {
    cwd: root,
    stdio: 'inherit',
    // Child processes spawned by tests use process.execPath, so they run on this Node too.
    env: { ...process.env, PATH: `${path.dirname(binary)}${path.delimiter}${process.env.PATH}` },
  });
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
