import path from 'node:path';
import { Client } from 'pg';
import type { RunningFixture } from '@keel/test-support';
import { describeWithPrograms, EXPRESS_MAJORS, freePort, startPostgres, startRecipeApp, waitForPort, type TemporaryPostgres } from '../../test-support';

const APP = path.join(__dirname, 'app.js');

interface ShutdownReport {
  exitCode: number;
  phases: Array<{ phase: string; hooks: Array<{ name: string; outcome: string }> }>;
}

describeWithPrograms(['postgresql'], 'recipe: close a PostgreSQL pool on shutdown, cancel a slow query (a real PostgreSQL)', () => {
  let postgres: TemporaryPostgres;
  let observer: Client;

  /** Statements of the app's connections that PostgreSQL is running now. */
  async function runningStatements(): Promise<string[]> {
    const { rows } = await observer.query<{ query: string }>("SELECT query FROM pg_stat_activity WHERE application_name = 'orders' AND state = 'active'");
    return rows.map((row) => row.query);
  }

  async function appConnections(): Promise<number> {
    const { rows } = await observer.query<{ count: number }>("SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = 'orders'");
    return rows[0]!.count;
  }

  beforeAll(async () => {
    postgres = await startPostgres();
    observer = new Client({ connectionString: postgres.connectionString });
    await observer.connect();
  }, 30_000);

  afterAll(async () => {
    await observer?.end();
    await postgres?.stop();
  });

  describe.each(EXPRESS_MAJORS)('app.js on Express %i', (major) => {
    let app: RunningFixture;
    let base: string;

    beforeEach(async () => {
      const port = await freePort();
      app = startRecipeApp(APP, { express: major, env: { PORT: String(port), DATABASE_URL: postgres.connectionString } });
      await waitForPort(port);
      base = `http://127.0.0.1:${port}`;
    });

    afterEach(async () => {
      app.kill('SIGKILL');
      await app.exited;
    });

    it('answers from the database', async () => {
      const response = await fetch(`${base}/orders/count`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ count: 42 });
    });

    it('answers 503 at the 1 s deadline and PostgreSQL stops the 30 s statement', async () => {
      const startedAt = Date.now();
      const response = await fetch(`${base}/report?seconds=30`, { headers: { accept: 'application/json' } });
      expect(response.status).toBe(503);
      expect(Date.now() - startedAt).toBeLessThan(5_000);
      // Cancelled in the database, not only abandoned by the app.
      const until = Date.now() + 5_000;
      let running = await runningStatements();
      while (running.some((text) => text.includes('pg_sleep')) && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        running = await runningStatements();
      }
      expect(running.filter((text) => text.includes('pg_sleep'))).toEqual([]);
      // The connection went back to the pool and serves the next request.
      expect((await fetch(`${base}/orders/count`)).status).toBe(200);
    });

    it('on SIGTERM lets the running query finish, then closes the pool, and exits 0', async () => {
      await fetch(`${base}/orders/count`);
      const inFlight = fetch(`${base}/report?seconds=0.4`);
      const until = Date.now() + 5_000;
      while (!(await runningStatements()).some((text) => text.includes('pg_sleep')) && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      app.kill('SIGTERM');

      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ slept: '' });

      const result = await app.exited;
      expect(result.code).toBe(0);
      const report = (result.lines.find((line) => (line as { message?: string }).message === 'shutdown complete') as { report: ShutdownReport }).report;
      const phaseOf = (name: string): string | undefined => report.phases.find((phase) => phase.hooks.some((hook) => hook.name === name))?.phase;
      expect(phaseOf('close-db')).toBe('cleanup');
      expect(report.phases.find((phase) => phase.phase === 'cleanup')!.hooks).toEqual([expect.objectContaining({ name: 'close-db', outcome: 'ok' })]);
      // pool.end() closed every connection the app had.
      expect(await appConnections()).toBe(0);
    });
  });
});
