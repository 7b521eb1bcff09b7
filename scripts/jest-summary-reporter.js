// Prints one plain closing line with the counts of the run, and appends them to
// the file named by KEEL_TEST_TALLY so a multi-run script can add them up.
const fs = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const line = `${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests} skipped`;
    process.stdout.write(`\nTests on Node ${process.versions.node}: ${line}\n`);
    if (process.env.KEEL_TEST_TALLY) {
      fs.appendFileSync(process.env.KEEL_TEST_TALLY, `${results.numPassedTests} ${results.numFailedTests} ${results.numPendingTests}\n`);
    }
  }
}

module.exports = SummaryReporter;
