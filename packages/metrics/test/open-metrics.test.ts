import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { metricsEndpoint } from '@keel/metrics';
import request from 'supertest';
import http from 'node:http';

describe('metricsEndpoint() in OpenMetrics', () => {
  it('names counter families without _total, gives _total to every counter sample, and ends with # EOF', async () => {
    const registry = new Registry();
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [registry] }).inc(2);
    new Counter({ name: 'legacy_jobs', help: 'Jobs, named the old way.', labelNames: ['queue'], registers: [registry] }).inc({ queue: 'a"b' }, 3);
    new Gauge({ name: 'queue_depth', help: 'Depth.', registers: [registry] }).set(4);
    new Histogram({ name: 'job_seconds', help: 'Job time.', buckets: [1], registers: [registry] }).observe(0.5);
    const server = http.createServer(metricsEndpoint({ registry }));
    const response = await request(server).get('/metrics').set('Accept', 'application/openmetrics-text; version=1.0.0').expect(200);
    expect(response.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(response.text).toBe(
      [
        '# HELP jobs Jobs.',
        '# TYPE jobs counter',
        'jobs_total 2',
        '# HELP legacy_jobs Jobs, named the old way.',
        '# TYPE legacy_jobs counter',
        'legacy_jobs_total{queue="a\\"b"} 3',
        '# HELP queue_depth Depth.',
        '# TYPE queue_depth gauge',
        'queue_depth 4',
        '# HELP job_seconds Job time.',
        '# TYPE job_seconds histogram',
        'job_seconds_bucket{le="1"} 1',
        'job_seconds_bucket{le="+Inf"} 1',
        'job_seconds_sum 0.5',
        'job_seconds_count 1',
        '# EOF',
        '',
      ].join('\n'),
    );
  });
});
