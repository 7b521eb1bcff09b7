import http from 'node:http';
import { request } from 'undici';
import { outbound } from '@keel/outbound';
import { metrics } from '@keel/metrics';
import { listen, closeServer } from '@keel/test-support';
import { freshRegistry, parseScrape, valueOf } from './helpers';

describe('metrics() with @keel/outbound', () => {
  it('counts the attempts, retries, results and breaker state of real calls', async () => {
    let flakyCalls = 0;
    const { server, url } = await listen((req: http.IncomingMessage, res: http.ServerResponse) => {
      // /flaky fails once then answers; /down always fails.
      res.statusCode = req.url === '/flaky' && ++flakyCalls > 1 ? 200 : 503;
      res.end('x');
    });
    const registry = freshRegistry();
    const middleware = metrics({ registry });
    const dispatcher = outbound({ baseDelay: 1, maxDelay: 2, retryBudget: false, breaker: { threshold: 0.5, minimumCalls: 3, cooldown: '10s' } });
    try {
      const flaky = await request(`${url}/flaky`, { dispatcher });
      expect(flaky.statusCode).toBe(200);
      await flaky.body.text();
      // 503 on every attempt it makes: the last response is delivered as it came, and the circuit opens.
      const down = await request(`${url}/down`, { dispatcher });
      expect(down.statusCode).toBe(503);
      await down.body.text();
      // The next call is refused by the open circuit, without reaching the server.
      await expect(request(`${url}/down`, { dispatcher })).rejects.toMatchObject({ code: 'ERR_KEEL_CIRCUIT_OPEN' });

      const samples = parseScrape(await registry.metrics());
      const origin = url;
      expect(valueOf(samples, 'keel_outbound_attempts_total', { origin })).toBeGreaterThanOrEqual(3);
      expect(valueOf(samples, 'keel_outbound_retries_total', { origin })).toBeGreaterThanOrEqual(1);
      expect(valueOf(samples, 'keel_outbound_results_total', { origin, outcome: '2xx' })).toBe(1);
      expect(valueOf(samples, 'keel_outbound_results_total', { origin })).toBe(3);
      expect(valueOf(samples, 'keel_outbound_breaker_state', { origin, state: 'open' })).toBe(1);
      expect(valueOf(samples, 'keel_outbound_results_total', { origin, outcome: 'circuit-open' })).toBe(1);
      expect(valueOf(samples, 'keel_outbound_results_total', { origin, outcome: '5xx' })).toBe(1);
      expect(valueOf(samples, 'keel_outbound_breaker_state', { origin, state: 'closed' })).toBe(0);
      expect(valueOf(samples, 'keel_outbound_call_duration_seconds_count', { origin })).toBe(3);
    } finally {
      middleware.dispose();
      await dispatcher.close();
      await closeServer(server);
    }
  });
});
