import path from 'node:path';
import { describeEachExpress, runFixture, startFixture } from '@keel/test-support';

const fixture = (name: string): string => path.join(__dirname, 'fixtures', name);
const events = (lines: readonly unknown[]): unknown[] => lines.filter((line) => typeof line === 'object' && line !== null && 'event' in line);

describeEachExpress('timeout() in a real process', ({ major }) => {
  const env = { EXPRESS: major === 4 ? 'express4' : 'express' };

  it('survives a handler that writes after its 503: the write is dropped and reported', async () => {
    const result = await runFixture(fixture('late-write.js'), { env, args: ['keel'] });
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('ERR_HTTP_HEADERS_SENT');
    expect(events(result.lines)).toEqual([
      { event: 'response', status: 503, body: { code: 'ERR_KEEL_DEADLINE_EXCEEDED' } },
      { event: 'late-write', call: 'setHeader' },
      { event: 'late-json-returned' },
      { event: 'alive' },
    ]);
  });

  it('is the case connect-timeout crashes on (control)', async () => {
    const result = await runFixture(fixture('late-write.js'), { env, args: ['connect-timeout'] });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('ERR_HTTP_HEADERS_SENT');
    expect(events(result.lines)).not.toContainEqual({ event: 'alive' });
  });

  it('answers an in-flight request 503 with the shutdown reason on SIGTERM, using the default lifecycle', async () => {
    const app = startFixture(fixture('shutdown-default-lifecycle.js'), { env });
    const { port } = (await app.waitFor((line) => (line as { event?: string }).event === 'listening')) as { port: number };
    const response = fetch(`http://127.0.0.1:${port}/work`);
    await app.waitFor((line) => (line as { event?: string }).event === 'arrived');
    app.kill('SIGTERM');
    const answer = await response;
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('1');
    expect(await answer.json()).toEqual({ code: 'ERR_KEEL_SHUTTING_DOWN' });
    const result = await app.exited;
    expect(result.code).toBe(0);
    expect(events(result.lines)).toContainEqual({ event: 'aborted', code: 'ERR_KEEL_SHUTTING_DOWN', state: 'stopping' });
  });
});
