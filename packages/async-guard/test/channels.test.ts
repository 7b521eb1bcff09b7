import path from 'node:path';
import { describeEachExpress, runFixture } from '@keel/test-support';
import { assertBuilt } from './built';

beforeAll(assertBuilt);

describeEachExpress('installProcessGuards() diagnostics channel', ({ major }) => {
  it('publishes each fault with its kind, whether it is fatal, and the request that owned it', async () => {
    const result = await runFixture(path.join(__dirname, 'fixtures', 'fault-channel.js'), { env: { EXPRESS_MAJOR: String(major) } });
    const faults = result.lines.filter((line) => (line as { message?: string }).message === 'fault');
    expect(faults).toEqual([
      { message: 'fault', kind: 'unhandledRejection', value: 'nobody awaits this', fatal: false, url: '/reject' },
      { message: 'fault', kind: 'nextTwice', value: 'again', fatal: false, url: '/twice' },
      { message: 'fault', kind: 'uncaughtException', value: 'thrown in a timer', fatal: true },
    ]);
    expect(result.code).toBe(1);
  });
});
