import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROGRAMS, findProgram, installCommand, locate } from './system-programs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { skippedSummary } = require('./jest-summary-reporter.js') as {
  skippedSummary(skipped: Array<{ testPath: string; suite: string; missing: string[] }>, rootDir: string): string;
};

const root = path.resolve(__dirname, '..');

/** Runs the fixture suite in a jest of its own, with the repo's reporter, and `env` on top of a clean environment. */
function runFixtureJest(env: Record<string, string>): { status: number | null; stdout: string; output: string } {
  const config = {
    rootDir: root,
    testEnvironment: 'node',
    testMatch: ['<rootDir>/scripts/fixtures/needs-chromium.fixture.ts'],
    moduleNameMapper: { '^@keel/test-support$': '<rootDir>/test/support/index.ts' },
    transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
    reporters: ['default', '<rootDir>/scripts/jest-summary-reporter.js'],
  };
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !['CI', 'KEEL_SKIP_SYSTEM_TESTS', 'KEEL_TEST_TALLY', 'KEEL_SKIPPED_SUITES_FILE', 'KEEL_CHROMIUM'].includes(key) && !key.startsWith('JEST_')),
  );
  const run = spawnSync(process.execPath, [path.join(root, 'node_modules', 'jest', 'bin', 'jest.js'), '--config', JSON.stringify(config), '--runInBand'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...clean, ...env },
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout, output: `${run.stdout}${run.stderr}` };
}

describe('system programs', () => {
  it('finds a program on PATH or by path, and nothing that is not an executable file', () => {
    expect(findProgram(['keel-no-such-program', 'sh'])).toMatch(/\/sh$/);
    expect(findProgram(['/bin/sh'])).toBe('/bin/sh');
    expect(findProgram([undefined, '/no/such/file', 'keel-no-such-program'])).toBeUndefined();
    // A directory, or a file without an execute bit, is not a program.
    expect(findProgram([os.tmpdir(), path.join(root, 'package.json')])).toBeUndefined();
  });

  it('names one Debian package per program, and installs each package once', () => {
    for (const program of Object.values(PROGRAMS)) expect(program.debianPackage).toMatch(/^[a-z0-9][a-z0-9.+-]+$/);
    expect(installCommand(['promtool', 'prometheus', 'haproxy'])).toBe('apt-get install -y --no-install-recommends haproxy prometheus');
    expect(() => locate('frobnicator' as never)).toThrow(/unknown system program "frobnicator"; known: haproxy, nginx/);
  });

  it('installs them all with the command the README gives', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(readme).toContain(`\`${installCommand(Object.keys(PROGRAMS) as Array<keyof typeof PROGRAMS>)}\``);
  });

  it('lists the skipped suites with the one command that installs what they need', () => {
    const summary = skippedSummary(
      [
        { testPath: path.join(root, 'docs/b.test.ts'), suite: 'behind nginx', missing: ['nginx'] },
        { testPath: path.join(root, 'docs/a.test.ts'), suite: 'behind haproxy', missing: ['haproxy'] },
        { testPath: path.join(root, 'docs/c.test.ts'), suite: 'metrics', missing: ['promtool', 'prometheus'] },
      ],
      root,
    );
    expect(summary.trim().split('\n')).toEqual([
      'Skipped 3 suites that need programs beyond Node (with CI=true a missing program fails instead):',
      '  docs/b.test.ts › behind nginx (needs nginx)',
      '  docs/a.test.ts › behind haproxy (needs haproxy)',
      '  docs/c.test.ts › metrics (needs promtool, prometheus)',
      'Install everything they need (Debian/Ubuntu, as root), then run npm test again:',
      '  apt-get install -y --no-install-recommends haproxy nginx-light prometheus',
    ]);
    expect(skippedSummary([], root)).toBe('');
  });

  describe('a suite whose program is missing, in a jest run of its own', () => {
    it('is skipped, and named at the end of the run with the command that installs its program', () => {
      const { status, stdout } = runFixtureJest({ KEEL_CHROMIUM: '/no/such/chromium' });
      expect(status).toBe(0);
      expect(stdout).toMatch(/: 0 passed, 0 failed, 1 skipped\n/);
      // The last lines the run prints to stdout (jest's own totals go to stderr, before it).
      expect(stdout.trimEnd().split('\n').slice(-4)).toEqual([
        'Skipped 1 suite that needs programs beyond Node (with CI=true a missing program fails instead):',
        '  scripts/fixtures/needs-chromium.fixture.ts › a suite that needs Chromium (needs chromium)',
        'Install everything they need (Debian/Ubuntu, as root), then run npm test again:',
        '  apt-get install -y --no-install-recommends chromium',
      ]);
    }, 60_000);

    it('fails under CI=true, naming the program and its install command', () => {
      const { status, output } = runFixtureJest({ KEEL_CHROMIUM: '/no/such/chromium', CI: 'true' });
      expect(status).toBe(1);
      expect(output).toContain('CI=true, and this suite needs a program that is not installed: Chromium (looked for /no/such/chromium)');
      expect(output).toContain('`apt-get install -y --no-install-recommends chromium`');
      expect(output).toMatch(/: 0 passed, 1 failed, 0 skipped\n/);
      expect(output).not.toContain('Skipped 1 suite');
    }, 60_000);

    it('runs once the program is there', () => {
      const fake = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'keel-programs-')), 'chromium');
      fs.writeFileSync(fake, '#!/bin/sh\n', { mode: 0o755 });
      try {
        const { status, output } = runFixtureJest({ KEEL_CHROMIUM: fake, CI: 'true' });
        expect(status).toBe(0);
        expect(output).toMatch(/: 1 passed, 0 failed, 0 skipped\n/);
        expect(output).not.toContain('Skipped');
      } finally {
        fs.rmSync(path.dirname(fake), { recursive: true, force: true });
      }
    }, 60_000);
  });
});
