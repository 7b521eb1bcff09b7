import fs from 'node:fs';
import { PROGRAMS, installCommand, locate, type SystemProgram } from '../../scripts/system-programs';

export type { SystemProgram };

/**
 * The environment variable naming the file where suites skipped for a missing
 * program are recorded, one JSON line each; the jest summary reporter sets it
 * and prints them at the end of the run.
 */
export const SKIPPED_SUITES_FILE_ENV = 'KEEL_SKIPPED_SUITES_FILE';

/** One suite skipped because a program it needs is missing (or system tests were turned off). */
export interface SkippedSuite {
  readonly testPath: string;
  readonly suite: string;
  readonly missing: readonly SystemProgram[];
}

/** True under CI (`CI` set, and not `false` or `0`): there a missing program fails its suite. */
export function isCI(): boolean {
  const value = process.env.CI;
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

/** Why a program is missing, with the command that installs it. */
export function missingProgramMessage(programs: readonly SystemProgram[]): string {
  const named = programs.map((name) => `${PROGRAMS[name].label} (looked for ${PROGRAMS[name].candidates().filter(Boolean).join(', ')})`);
  return `not installed: ${named.join('; ')}. Install with \`${installCommand(programs)}\` (Debian/Ubuntu, as root; .ci/run does this).`;
}

/** The path of `name`, or an error naming the command that installs it. */
export function requireSystemProgram(name: SystemProgram): string {
  const found = locate(name);
  if (found === undefined) throw new Error(missingProgramMessage([name]));
  return found;
}

function recordSkip(skipped: SkippedSuite): void {
  const file = process.env[SKIPPED_SUITES_FILE_ENV];
  if (file) fs.appendFileSync(file, `${JSON.stringify(skipped)}\n`);
}

/**
 * `describe` for a suite that runs programs beyond Node (haproxy, nginx,
 * PostgreSQL, Chromium, promtool, prometheus, valgrind). With every program installed it
 * runs. With one missing it is skipped and named in the summary at the end of
 * the jest run, which prints the command that installs it; under CI
 * (`CI=true`, as in .ci/run) it fails instead. `KEEL_SKIP_SYSTEM_TESTS=1` skips
 * it even when the programs are there.
 */
export function describeWithPrograms(programs: readonly SystemProgram[], name: string, body: () => void): void {
  const missing = programs.filter((program) => locate(program) === undefined);
  const turnedOff = process.env.KEEL_SKIP_SYSTEM_TESTS === '1';
  if (missing.length === 0 && !turnedOff) {
    describe(name, body);
    return;
  }
  if (!turnedOff && isCI()) {
    describe(name, () => {
      beforeAll(() => {
        throw new Error(`CI=true, and this suite needs a program that is ${missingProgramMessage(missing)}`);
      });
      body();
    });
    return;
  }
  recordSkip({ testPath: expect.getState().testPath ?? '', suite: name, missing });
  describe.skip(name, body);
}
