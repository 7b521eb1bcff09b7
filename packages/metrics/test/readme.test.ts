import fs from 'node:fs';
import path from 'node:path';
import { startFixture } from '@keel/test-support';
import { metrics, KEEL_CHANNELS } from '@keel/metrics';
import { Registry } from 'prom-client';
import { get, parseScrape, valueOf } from './helpers';

const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');

describe('README', () => {
  it('shows test/fixtures/readme-example.js verbatim', () => {
    const example = fs.readFileSync(path.join(__dirname, 'fixtures', 'readme-example.js'), 'utf8');
    expect(readme).toContain(`\`\`\`js\n${example}\`\`\``);
  });

  it('lists every metric the package registers, with its type, and no other', async () => {
    const registry = new Registry();
    const middleware = metrics({ registry, sizes: true });
    try {
      const registered = (await registry.getMetricsAsJSON()).map((metric) => `${metric.name} ${metric.type}`).sort();
      const documented = [...readme.matchAll(/^\| `([a-z_]+)` \| (counter|gauge|histogram) \|/gm)].map((match) => `${match[1]} ${match[2]}`).sort();
      expect(documented).toEqual(registered);
    } finally {
      middleware.dispose();
    }
  });

  it('names every channel the package subscribes to', () => {
    for (const name of Object.values(KEEL_CHANNELS)) {
      const short = name.replace(/^keel:outbound:/, ':');
      expect({ name, documented: readme.includes(`\`${name}\``) || readme.includes(`\`${short}\``) }).toEqual({ name, documented: true });
    }
  });

  it('runs: the example serves, and its metrics port shows the request', async () => {
    const fixture = startFixture(path.join(__dirname, 'fixtures', 'readme-example.js'), { env: { PORT: '0', METRICS_PORT: '0' } });
    try {
      const { port } = (await fixture.waitFor((line) => (line as { message?: string }).message === 'listening')) as { port: number };
      const { url } = (await fixture.waitFor((line) => (line as { message?: string }).message === 'metrics')) as { url: string };
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect((await get(`http://127.0.0.1:${port}/users/7`)).status).toBe(200);
      const samples = parseScrape((await get(url)).body);
      expect(valueOf(samples, 'http_request_duration_seconds_count', { method: 'GET', route: '/users/:id', status_code: '200' })).toBe(1);
      fixture.kill('SIGTERM');
      expect((await fixture.exited).code).toBe(0);
    } finally {
      fixture.kill('SIGKILL');
    }
  });
});
