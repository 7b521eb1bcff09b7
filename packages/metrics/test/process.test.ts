import path from 'node:path';
import { describeEachExpress, startFixture } from '@keel/test-support';
import { assertBuilt } from './built';
import { get, parseScrape, valueOf } from './helpers';

const FIXTURE = path.join(__dirname, 'fixtures', 'faults-server.js');

beforeAll(assertBuilt);

describeEachExpress('metrics() of a process whose guards catch faults', ({ major }) => {
  it('counts an unhandled rejection and a fatal uncaught exception, and the last scrape sees the shutdown it started', async () => {
    const fixture = startFixture(FIXTURE, { env: { EXPRESS_MAJOR: String(major) } });
    try {
      const { port } = (await fixture.waitFor((line) => (line as { message?: string }).message === 'listening')) as { port: number };
      const { url } = (await fixture.waitFor((line) => (line as { message?: string }).message === 'metrics')) as { url: string };
      // The guard answers the request that owned the rejection with a 500; the process lives on.
      expect((await get(`http://127.0.0.1:${port}/reject`)).status).toBe(500);
      let samples = parseScrape((await get(url)).body);
      expect(valueOf(samples, 'keel_process_faults_total', { kind: 'unhandledRejection' })).toBe(1);
      expect(valueOf(samples, 'keel_process_faults_total', { kind: 'uncaughtException' })).toBe(0);

      // The guard answers the request that owned the throw with a 500, and starts the shutdown.
      expect((await get(`http://127.0.0.1:${port}/throw-later`)).status).toBe(500);
      await fixture.waitFor((line) => (line as { message?: string }).message === 'stopping');
      samples = parseScrape((await get(url)).body);
      expect(valueOf(samples, 'keel_process_faults_total', { kind: 'uncaughtException' })).toBe(1);
      expect(valueOf(samples, 'keel_lifecycle_state', { state: 'stopping' })).toBe(1);
      expect(valueOf(samples, 'keel_drains_total', { result: 'clean' })).toBe(1);
      expect(valueOf(samples, 'http_request_duration_seconds_count', { route: '/throw-later', status_code: '500' })).toBe(1);
      const result = await fixture.exited;
      expect(result.code).toBe(1);
    } finally {
      fixture.kill('SIGKILL');
    }
  });
});
