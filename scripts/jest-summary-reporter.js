// Prints one plain closing line with the counts of the run, and appends them to
// the file named by KEEL_TEST_TALLY so a multi-run script can add them up.
// Before it, a summary of the suites skipped because a program they need is
// not installed (see test/support/system-programs.ts), with the one command
// that installs them all.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { installCommand } = require('./system-programs');

const SKIPPED_SUITES_FILE_ENV = 'KEEL_SKIPPED_SUITES_FILE';

/** The skipped suites recorded in `file`, each once, in file order. */
function readSkipped(file) {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const seen = new Map();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const entry = JSON.parse(line);
    seen.set(`${entry.testPath}\0${entry.suite}`, entry);
  }
  return [...seen.values()].sort((a, b) => a.testPath.localeCompare(b.testPath) || a.suite.localeCompare(b.suite));
}

/** The summary block for `skipped` suites, relative to `rootDir`; empty when none was skipped. */
function skippedSummary(skipped, rootDir) {
  if (skipped.length === 0) return '';
  const missing = [...new Set(skipped.flatMap((entry) => entry.missing))].sort();
  const lines = [
    '',
    `Skipped ${skipped.length} suite${skipped.length === 1 ? '' : 's'} that need${skipped.length === 1 ? 's' : ''} programs beyond Node (with CI=true a missing program fails instead):`,
  ];
  for (const entry of skipped) {
    const why = entry.missing.length > 0 ? `needs ${entry.missing.join(', ')}` : 'KEEL_SKIP_SYSTEM_TESTS=1';
    lines.push(`  ${path.relative(rootDir, entry.testPath) || entry.testPath} › ${entry.suite} (${why})`);
  }
  if (missing.length > 0) lines.push('Install everything they need (Debian/Ubuntu, as root), then run npm test again:', `  ${installCommand(missing)}`);
  return `${lines.join('\n')}\n`;
}

class SummaryReporter {
  constructor(globalConfig) {
    this.rootDir = (globalConfig && globalConfig.rootDir) || process.cwd();
    // Set before jest starts its workers, which inherit it.
    this.skippedFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'keel-jest-')), 'skipped-suites.jsonl');
    process.env[SKIPPED_SUITES_FILE_ENV] = this.skippedFile;
  }

  onRunComplete(_contexts, results) {
    const summary = skippedSummary(readSkipped(this.skippedFile), this.rootDir);
    fs.rmSync(path.dirname(this.skippedFile), { recursive: true, force: true });
    if (summary) {
      // Last of all: jest prints its own totals after every custom reporter's
      // onRunComplete, in the same turn; this waits for the next one (or exit).
      let printed = false;
      const print = () => {
        if (!printed) process.stdout.write(summary);
        printed = true;
      };
      setImmediate(print);
      process.once('exit', print);
    }
    const line = `${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests} skipped`;
    process.stdout.write(`\nTests on Node ${process.versions.node}: ${line}\n`);
    if (process.env.KEEL_TEST_TALLY) {
      fs.appendFileSync(process.env.KEEL_TEST_TALLY, `${results.numPassedTests} ${results.numFailedTests} ${results.numPendingTests}\n`);
    }
  }
}

module.exports = SummaryReporter;
module.exports.skippedSummary = skippedSummary;
