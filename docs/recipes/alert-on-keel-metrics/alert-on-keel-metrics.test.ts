import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { requireSystemProgram } from '@keel/test-support';
import { EXPRESS_MAJORS, describeWithPrograms, freePort, startRecipeApp, stopProcess } from '../../test-support';

const HERE = __dirname;
const APP = path.join(HERE, 'app.js');

function run(program: string, args: string[]): string {
  try {
    return execFileSync(program, args, { cwd: HERE, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string };
    throw new Error(`${path.basename(program)} ${args.join(' ')} failed:\n${failure.stdout ?? ''}${failure.stderr ?? ''}`);
  }
}

describeWithPrograms(['promtool'], 'recipe: alert on keel metrics (promtool)', () => {
  it('alerts.yml and prometheus.yml pass promtool check', () => {
    const promtool = requireSystemProgram('promtool');
    expect(run(promtool, ['check', 'rules', 'alerts.yml'])).toMatch(/SUCCESS: 8 rules found/);
    expect(run(promtool, ['check', 'config', 'prometheus.yml'])).toMatch(/SUCCESS/);
  });

  it('every alert fires on the series of alerts.test.yml that should fire it, and no other', () => {
    const promtool = requireSystemProgram('promtool');
    expect(run(promtool, ['test', 'rules', 'alerts.test.yml'])).toMatch(/SUCCESS/);
    // Each alert of alerts.yml is tested, firing at least once.
    const alerts = (YAML.parse(fs.readFileSync(path.join(HERE, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; labels: { priority: string } }> }> }).groups.flatMap((group) => group.rules);
    const tests = YAML.parse(fs.readFileSync(path.join(HERE, 'alerts.test.yml'), 'utf8')) as { tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }> };
    const firing = new Set(tests.tests.flatMap((test) => test.alert_rule_test.filter((check) => check.exp_alerts.length > 0).map((check) => check.alertname)));
    expect([...firing].sort()).toEqual(alerts.map((rule) => rule.alert).sort());
    expect(new Set(alerts.map((rule) => rule.labels.priority))).toEqual(new Set(['P0', 'P1', 'P2']));
  });
});

interface QueryResult {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

describeWithPrograms(['prometheus'], 'recipe: alert on keel metrics (a real Prometheus scraping app.js)', () => {
  describe.each(EXPRESS_MAJORS)('on Express %i', (major) => {
    let dir: string;
    let prometheus: ChildProcess | undefined;
    let api: string;

    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keel-prometheus-'));
    });

    afterAll(async () => {
      if (prometheus !== undefined) await stopProcess(prometheus, 'SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    });

    async function query(expr: string): Promise<QueryResult[]> {
      const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await response.json()) as { status: string; data: { result: QueryResult[] }; error?: string };
      if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`);
      return body.data.result;
    }

    async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await probe();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    const scalar = async (expr: string): Promise<number | undefined> => {
      const result = await query(expr);
      return result.length === 0 ? undefined : result.reduce((total, entry) => total + Number(entry.value[1]), 0);
    };

    it('scrapes the request histogram, and the drain after SIGTERM', async () => {
      const app = startRecipeApp(APP, { express: major, env: { PORT: '0', METRICS_PORT: '0', METRICS_HOST: '127.0.0.1', PRE_STOP_DELAY: '300ms' }, timeoutMs: 30_000 });
      try {
        const port = ((await app.waitFor((line) => (line as { message?: string }).message === 'listening')) as { port: number }).port;
        const metricsUrl = new URL(((await app.waitFor((line) => (line as { message?: string }).message === 'metrics')) as { url: string }).url);
        const base = `http://127.0.0.1:${port}`;

        // The recipe's prometheus.yml, pointed at this app, scraping fast, on 127.0.0.1 only.
        const config = YAML.parse(fs.readFileSync(path.join(HERE, 'prometheus.yml'), 'utf8')) as {
          global: Record<string, string>;
          rule_files: string[];
          scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> } & Record<string, unknown>>;
        };
        config.global.scrape_interval = '200ms';
        config.global.evaluation_interval = '1s';
        config.rule_files = config.rule_files.map((file) => path.join(HERE, file));
        config.scrape_configs[0]!.static_configs[0]!.targets = [metricsUrl.host];
        fs.writeFileSync(path.join(dir, 'prometheus.yml'), YAML.stringify(config));
        const apiPort = await freePort();
        api = `http://127.0.0.1:${apiPort}`;
        const log = fs.openSync(path.join(dir, 'prometheus.log'), 'w');
        prometheus = spawn(
          requireSystemProgram('prometheus'),
          [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${apiPort}`, '--log.level=warn'],
          { stdio: ['ignore', log, log] },
        );
        await until('Prometheus to be ready', async () => ((await fetch(`${api}/-/ready`).catch(() => undefined))?.status === 200 ? true : undefined));

        const rules = (await (await fetch(`${api}/api/v1/rules`)).json()) as { data: { groups: Array<{ name: string; rules: unknown[] }> } };
        expect(rules.data.groups.map((group) => group.name)).toEqual(['keel-p0', 'keel-p1', 'keel-p2']);
        expect(rules.data.groups.flatMap((group) => group.rules)).toHaveLength(8);

        for (let index = 0; index < 20; index++) expect((await fetch(`${base}/orders/${index}`)).status).toBe(200);
        for (let index = 0; index < 20; index++) expect((await fetch(`${base}/scan/${Math.random().toString(36).slice(2)}`)).status).toBe(404);
        const job = config.scrape_configs[0]!.job_name;
        await until('the request histogram in Prometheus', () =>
          scalar(`sum(http_request_duration_seconds_count{job="${job}",route="/orders/:id",status_code="200"})`).then((value) => (value !== undefined && value >= 20 ? value : undefined)),
        );
        expect(await scalar(`sum(http_request_duration_seconds_count{job="${job}",route="<unmatched>",status_code="404"})`)).toBe(20);
        const routes = await query(`count by (route) (http_request_duration_seconds_bucket{job="${job}"})`);
        expect(routes.map((entry) => entry.metric.route).sort()).toEqual(['/orders/:id', '<unmatched>']);
        // The P1 latency expression, on live data: traffic, then a second scrape for rate().
        const p99 = await until('a p99 from the histogram', async () => {
          await fetch(`${base}/orders/p99`);
          const value = await scalar(`histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="${job}",route="/orders/:id"}[1m])))`);
          return value !== undefined && Number.isFinite(value) ? value : undefined;
        });
        expect(p99).toBeGreaterThan(0);
        expect(p99).toBeLessThan(1);

        // A request in flight at SIGTERM: it finishes during the drain, and the last scrapes see it.
        const slow = fetch(`${base}/slow?ms=600`).then((response) => response.status);
        await until('the slow request in flight', () => scalar(`http_requests_in_flight{job="${job}"}`).then((value) => (value === 1 ? value : undefined)));
        app.kill('SIGTERM');
        expect(await slow).toBe(200);
        const exited = await app.exited;
        expect(exited.code).toBe(0);

        expect(await scalar(`max_over_time(keel_drain_in_flight_requests{job="${job}"}[5m])`)).toBe(1);
        expect(await scalar(`max_over_time(keel_drain_requests_served_total{job="${job}"}[5m])`)).toBeGreaterThanOrEqual(1);
        expect(await scalar(`max_over_time(keel_drains_total{job="${job}",result="clean"}[5m])`)).toBe(1);
        expect(await scalar(`max_over_time(keel_drain_sockets_closed_total{job="${job}",cause="forced"}[5m])`)).toBe(0);
        expect(await scalar(`max_over_time(keel_lifecycle_state{job="${job}",state="draining"}[5m])`)).toBe(1);
        expect(await scalar(`max_over_time(keel_shutdown_phase_duration_seconds{job="${job}",phase="drain"}[5m])`)).toBeGreaterThan(0);
        expect(await scalar(`max_over_time(http_request_duration_seconds_count{job="${job}",route="/slow",status_code="200"}[5m])`)).toBe(1);
      } finally {
        app.kill('SIGKILL');
        await app.exited;
      }
    }, 60_000);
  });
});
