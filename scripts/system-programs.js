'use strict';
// The programs beyond Node that some tests run (proxies, a database, a browser,
// Prometheus), and the Debian package that installs each. The one list: the
// test helper skips or fails a suite by it, the jest summary prints its install
// command, and .ci/run installs what it names. A new program is one line here.
//
// Usage: node scripts/system-programs.js --missing-packages
//   prints the Debian packages of the programs not installed, one per line.

const fs = require('node:fs');
const path = require('node:path');

/** The newest `/usr/lib/postgresql/<major>/bin/initdb`, where Debian puts it, or `undefined`. */
function debianInitdb() {
  const base = '/usr/lib/postgresql';
  if (!fs.existsSync(base)) return undefined;
  const majors = fs
    .readdirSync(base)
    .filter((name) => fs.existsSync(path.join(base, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length > 0 ? path.join(base, majors[0], 'bin', 'initdb') : undefined;
}

/**
 * Each program: `label` for messages, the Debian `debianPackage` that installs
 * it, and `candidates()`, the paths or command names to look for, in order
 * (environment overrides first).
 */
const PROGRAMS = Object.freeze({
  haproxy: { label: 'haproxy', debianPackage: 'haproxy', candidates: () => [process.env.HAPROXY, 'haproxy', '/usr/sbin/haproxy'] },
  nginx: { label: 'nginx', debianPackage: 'nginx-light', candidates: () => ['nginx', '/usr/sbin/nginx'] },
  postgresql: {
    label: 'PostgreSQL (initdb)',
    debianPackage: 'postgresql',
    candidates: () => [process.env.KEEL_PG_BIN && path.join(process.env.KEEL_PG_BIN, 'initdb'), debianInitdb(), 'initdb'],
  },
  chromium: { label: 'Chromium', debianPackage: 'chromium', candidates: () => [process.env.KEEL_CHROMIUM ?? '/usr/bin/chromium'] },
  promtool: { label: 'promtool', debianPackage: 'prometheus', candidates: () => ['promtool', '/usr/bin/promtool'] },
  prometheus: { label: 'Prometheus', debianPackage: 'prometheus', candidates: () => ['prometheus', '/usr/bin/prometheus'] },
  valgrind: { label: 'valgrind', debianPackage: 'valgrind', candidates: () => ['valgrind', '/usr/bin/valgrind'] },
});

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first of `candidates` that is an executable file, as a path or found on `PATH`; `undefined` when none is. */
function findProgram(candidates) {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const candidate of candidates) {
    if (!candidate) continue;
    if (candidate.includes('/')) {
      if (isExecutable(candidate)) return candidate;
      continue;
    }
    for (const dir of dirs) {
      const file = path.join(dir, candidate);
      if (isExecutable(file)) return file;
    }
  }
  return undefined;
}

/** The path of program `name` (a key of {@link PROGRAMS}), or `undefined` when it is not installed. */
function locate(name) {
  const program = PROGRAMS[name];
  if (!program) throw new Error(`unknown system program ${JSON.stringify(name)}; known: ${Object.keys(PROGRAMS).join(', ')}`);
  return findProgram(program.candidates());
}

/** The one command that installs the Debian packages of `names` (program names), each package once. */
function installCommand(names) {
  const packages = [...new Set(names.map((name) => PROGRAMS[name].debianPackage))].sort();
  return `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

module.exports = { PROGRAMS, findProgram, locate, installCommand };

if (require.main === module) {
  if (process.argv[2] !== '--missing-packages') {
    process.stderr.write('Usage: node scripts/system-programs.js --missing-packages\n');
    process.exit(2);
  }
  const missing = Object.keys(PROGRAMS).filter((name) => locate(name) === undefined);
  const packages = [...new Set(missing.map((name) => PROGRAMS[name].debianPackage))];
  if (packages.length > 0) process.stdout.write(`${packages.join('\n')}\n`);
}
