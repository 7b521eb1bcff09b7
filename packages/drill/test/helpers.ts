import fs from 'node:fs';
import path from 'node:path';
import { runFixture, type FixtureResult } from '@keel/test-support';

/** The built command line, as `npx keel-drill` runs it. */
export const CLI = path.join(__dirname, '..', 'dist', 'cli.js');

/** Fails with a clear message when the build is missing. */
export function assertBuilt(): void {
  for (const name of ['drill', 'chaos', 'drain', 'lifecycle']) {
    if (!fs.existsSync(path.join(__dirname, '..', '..', name, 'dist', 'index.js'))) throw new Error(`packages/${name}/dist is missing: run \`npm run build\` before these tests`);
  }
}

export const fixture = (name: string): string => path.join(__dirname, 'fixtures', name);

/** A short drill: one SIGTERM, a small load. */
export const SHORT = ['--shutdowns', '1', '--clients', 'agent', '--connections', '8', '--warmup', '400', '--url', '/work?id={id}&ms=0', '--slow-url', '/work?id={id}&ms={ms}'];

/** Runs keel-drill with `args` and resolves with how it ended. */
export function drill(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 40_000): Promise<FixtureResult> {
  return runFixture(CLI, { args, env, timeoutMs });
}
