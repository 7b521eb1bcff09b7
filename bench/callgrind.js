'use strict';
// Reading and switching the counters of a process that runs under valgrind's
// callgrind (bench:instructions and its --outbound mode share these).

const { execFile } = require('node:child_process');
const { promisify } = require('node:util');

const run = promisify(execFile);

/** The instructions the callgrind-run process `pid` has executed since its instrumentation was switched on. */
async function instructionsSoFar(pid) {
  const { stdout } = await run('callgrind_control', ['-e', 'Ir', String(pid)]);
  const counts = [...stdout.matchAll(/^\s*Th\s+\d+\s+([\d,]+)\s*$/gm)].map((match) => Number(match[1].replaceAll(',', '')));
  if (counts.length === 0) throw new Error(`callgrind_control printed no instruction count for ${pid}: ${stdout}`);
  return counts.reduce((sum, count) => sum + count, 0);
}

/** Switches counting on in the callgrind-run process `pid` (started with --instr-atstart=no). */
async function startCounting(pid) {
  await run('callgrind_control', ['-i', 'on', String(pid)]);
}

module.exports = { instructionsSoFar, startCounting };
