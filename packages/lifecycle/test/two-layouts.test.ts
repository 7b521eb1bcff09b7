import { join } from 'node:path';
import { runFixture } from '@keel/test-support';

jest.setTimeout(30_000);

// The fixture copies the built package (dist/): run `npm run build` first.
const FIXTURE = join(__dirname, 'fixtures', 'two-layouts.js');

async function run(layout: 'same' | 'different') {
  const result = await runFixture(FIXTURE, { env: { LAYOUT: layout } });
  expect(result.code).toBe(0);
  return { ...(result.lines.find((line) => typeof line === 'object' && line !== null) as Record<string, unknown>), stderr: result.stderr };
}

describe('two installed copies of @keel/lifecycle', () => {
  it('share one request context, silently, when their state has the same layout', async () => {
    expect(await run('same')).toEqual({ secondSeesFirst: true, sameContextObject: true, activeInBoth: true, warnings: [], stderr: '' });
  });

  it('keep their own state and warn once, naming the fix, when the layouts differ', async () => {
    const result = await run('different');
    expect(result).toMatchObject({ secondSeesFirst: false, activeInBoth: false, warnings: ['KEEL_SPLIT_STATE'] });
    expect(result.stderr).toContain('npm dedupe');
    expect((result.stderr as string).match(/KEEL_SPLIT_STATE/g)).toHaveLength(1);
  });
});
