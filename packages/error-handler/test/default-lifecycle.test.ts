import http from 'node:http';
import path from 'node:path';
import request from 'supertest';
import { describeEachExpress, startFixture } from '@keel/test-support';

const FIXTURE = path.join(__dirname, 'fixtures', 'default-lifecycle.js');

describeEachExpress('errorHandler() with the default lifecycle (child process, real SIGTERM)', ({ major }) => {
  it('answers with Connection: close once SIGTERM started the shutdown, and the process exits 0', async () => {
    const fixture = startFixture(FIXTURE, { args: [String(major)], env: { KUBERNETES_SERVICE_HOST: '' } });
    const agent = new http.Agent({ keepAlive: true });
    try {
      const { listening } = (await fixture.waitFor((line) => typeof line === 'object' && line !== null && 'listening' in line)) as { listening: number };
      const url = `http://127.0.0.1:${listening}`;

      const before = await request(url).get('/fails').agent(agent);
      expect(before.status).toBe(400);
      expect(before.headers.connection).toBe('keep-alive');

      fixture.kill('SIGTERM');
      await fixture.waitFor(/shutdown started/);
      const during = await request(url).get('/fails').agent(agent);
      expect(during.status).toBe(400);
      expect(during.headers.connection).toBe('close');

      await request(url).get('/release').agent(agent).expect(200, 'released');
      const result = await fixture.exited;
      expect(result.code).toBe(0);
    } finally {
      agent.destroy();
      fixture.kill('SIGKILL');
    }
  });
});
