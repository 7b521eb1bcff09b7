import { join } from 'node:path';
import { describeEachExpress, runFixture } from '@keel/test-support';
import { SPAN_ID, TRACE_ID } from './helpers';

// Child processes: slow to start on a busy machine.
jest.setTimeout(30_000);

// The fixture loads the built package (dist/): run `npm run build` first.
const FIXTURE = join(__dirname, 'fixtures', 'no-sdk-app.js');
const HIDE = join(__dirname, 'fixtures', 'hide-opentelemetry.js');

interface Answer {
  traceId: string;
  spanId: string;
  sampled: boolean;
  downstream: { traceparent: string; requestId: string };
}
interface Report {
  first: Answer;
  second: Answer;
  loaded: string[];
  lookups: number | null;
}

function expectOwnTrace(answer: Answer): void {
  expect(answer.traceId).toMatch(TRACE_ID);
  expect(answer.spanId).toMatch(SPAN_ID);
  expect(answer.sampled).toBe(true);
  // The call's parent is a client span of its own, child of the request's span.
  expect(answer.downstream).toEqual({ traceparent: expect.stringMatching(new RegExp(`^00-${answer.traceId}-[0-9a-f]{16}-01$`)), requestId: answer.traceId });
  expect(answer.downstream.traceparent.slice(36, 52)).not.toBe(answer.spanId);
}

describeEachExpress('traceId() without OpenTelemetry', ({ major }) => {
  const env = { EXPRESS_PACKAGE: major === 4 ? 'express4' : 'express' };

  it('works when @opentelemetry/api is not installed, and looks for it once per process, never per request', async () => {
    const result = await runFixture(FIXTURE, { env: { ...env, NODE_OPTIONS: `--require ${HIDE}` } });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = result.lines.find((line) => typeof line === 'object' && line !== null && 'first' in line) as Report;
    expectOwnTrace(report.first);
    expectOwnTrace(report.second);
    expect(report.first.traceId).not.toBe(report.second.traceId);
    expect(report.loaded).toEqual([]);
    // Two traceId() middlewares and two requests: one lookup, when the first middleware was made.
    expect(report.lookups).toBe(1);
  });

  it('mints its own trace when @opentelemetry/api is installed but no SDK is registered', async () => {
    const result = await runFixture(FIXTURE, { env });
    expect(result.stderr).toBe('');
    const report = result.lines.find((line) => typeof line === 'object' && line !== null && 'first' in line) as Report;
    expectOwnTrace(report.first);
    expectOwnTrace(report.second);
    expect(report.loaded.some((file) => file.includes('@opentelemetry/api'))).toBe(true);
  });
});
