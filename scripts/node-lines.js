'use strict';
// The Node lines keel supports, and the binary of each: the Node running this
// script when it is of that line, else the npm `node@<major>` package installed
// in scripts/node-matrix (on first use, apart from the workspace so its `node`
// never shadows the default one in node_modules/.bin).

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

/** Every supported major, oldest first; CI runs every package's tests on each. */
const SUPPORTED_LINES = Object.freeze([20, 22, 24, 26]);
/** The active LTS: `npm run bench` and `npm run drill` run on it unless told otherwise. */
const CURRENT_LTS = 26;
/** The lines the benchmarks are judged on: the active LTS and the one before it. */
const JUDGED_LINES = Object.freeze([24, 26]);
/**
 * `engines.node` of the root and of every package: each supported line, 20 and
 * 22 from the releases that load ES modules with `require()` unflagged.
 */
const ENGINES_RANGE = '^20.19.0 || ^22.12.0 || ^24.0.0 || ^26.0.0';
/** How the READMEs and the docs state the supported lines (a repo test holds them to it). */
const SUPPORTED_TEXT = 'Node 20.19+, 22.12+, 24 or 26';
const JUDGED_TEXT = 'benchmarks are judged on Node 24 and 26';

const MATRIX_DIR = path.join(__dirname, 'node-matrix');

function matrixBinary(major) {
  return path.join(MATRIX_DIR, 'node_modules', `node${major}`, 'bin', 'node');
}

/** Installs the matrix's Node packages (`npm ci` in scripts/node-matrix); throws when that fails. */
function installMatrix(log = (message) => process.stderr.write(`${message}\n`)) {
  log('[node-lines] installing the Node binaries of scripts/node-matrix from the npm registry (once)');
  const install = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: MATRIX_DIR, stdio: ['ignore', 'inherit', 'inherit'] });
  if (install.status !== 0) throw new Error(`npm ci in ${MATRIX_DIR} failed (exit ${install.status})`);
}

/**
 * The path of a Node binary of line `major`: this process's own when it is of
 * that line, else the matrix's, installed on first use.
 */
function nodeBinary(major, log) {
  if (!SUPPORTED_LINES.includes(major)) throw new Error(`Node ${major} is not a supported line; supported: ${SUPPORTED_LINES.join(', ')}`);
  if (Number(process.versions.node.split('.')[0]) === major) return process.execPath;
  const binary = matrixBinary(major);
  if (!fs.existsSync(binary)) installMatrix(log);
  if (!fs.existsSync(binary)) throw new Error(`Node ${major} is missing after install: see scripts/node-matrix/package.json`);
  return binary;
}

/** Parses a `--node` value (`'20'`, `'v26'`, `'node24'`) to a supported major, or throws naming the lines. */
function parseNodeLine(value) {
  const major = Number(String(value).replace(/^(node|v)/i, ''));
  if (!SUPPORTED_LINES.includes(major)) throw new Error(`--node must be one of ${SUPPORTED_LINES.join(', ')}; got ${JSON.stringify(value)}`);
  return major;
}

/**
 * Makes the rest of the calling script run on Node `major`: returns at once
 * when this process already is of that line; otherwise runs the same script
 * with the same arguments on that line's binary (its child processes use
 * `process.execPath`, so they run there too) and exits with its exit code.
 */
function runOnNodeLine(major) {
  const binary = nodeBinary(major);
  if (binary === process.execPath) return;
  if (process.env.KEEL_NODE_LINE === String(major)) throw new Error(`${binary} does not report Node ${major}`);
  const run = spawnSync(binary, [...process.execArgv, process.argv[1], ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, KEEL_NODE_LINE: String(major), PATH: `${path.dirname(binary)}${path.delimiter}${process.env.PATH}` },
  });
  process.exit(run.status ?? 1);
}

/** Installs the matrix's binaries now unless every supported line is already at hand. */
function ensureAllLines(log) {
  for (const major of SUPPORTED_LINES) nodeBinary(major, log);
}

if (require.main === module) {
  if (process.argv[2] !== '--install') {
    process.stderr.write('Usage: node scripts/node-lines.js --install   (installs the Node binaries of every supported line, once)\n');
    process.exit(2);
  }
  ensureAllLines();
}

module.exports = { SUPPORTED_LINES, CURRENT_LTS, JUDGED_LINES, ENGINES_RANGE, SUPPORTED_TEXT, JUDGED_TEXT, nodeBinary, parseNodeLine, runOnNodeLine, installMatrix };
