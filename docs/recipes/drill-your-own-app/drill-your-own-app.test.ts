import path from 'node:path';
import { runFixture } from '@keel/test-support';
import { EXPRESS_MAJORS } from '../../test-support';

// The drill as a user runs it (`npx keel-drill` runs this very file from the package's bin).
const KEEL_DRILL = path.resolve(__dirname, '..', '..', '..', 'packages', 'drill', 'dist', 'cli.js');
const USE_EXPRESS4 = path.resolve(__dirname, '..', '..', 'test-support', 'use-express4.js');
const SECRET = 'drill-recipe-secret-2f9c41';

interface Results {
  failures: string[];
  single: Array<{ client: string; counts: Record<string, number>; faults: { sent: number; answered: number; injected: number }; exitCode: number | null; slowInFlightAtSignal: number; slowInFlightCompleted: number }>;
}

/** `keel-drill` with the flags the page shows, one SIGTERM per client, results as JSON. */
async function drill(app: string, extra: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; results: Results; stderr: string }> {
  const args = ['--start', `node ${app}`, '--url', '/orders/{id}', '--slow-url', '/report?ms={ms}', '--shutdowns', '1', '--connections', '10', '--warmup', '500', '--json', '--no-progress', ...extra];
  const run = await runFixture(KEEL_DRILL, { args, env, timeoutMs: 45_000 });
  return { code: run.code, results: JSON.parse(run.stdout) as Results, stderr: run.stderr };
}

describe.each(EXPRESS_MAJORS)('recipe: drill your own app (on Express %i)', (major) => {
  const env: NodeJS.ProcessEnv = major === 4 ? { NODE_OPTIONS: `--require ${USE_EXPRESS4}` } : {};

  it('drills app.js with chaos triggers on both clients: nothing lost, every fault answered, exit 0', async () => {
    const { code, results, stderr } = await drill(path.join(__dirname, 'app.js'), ['--ready', '/readyz', '--clients', 'agent,undici', '--faults', '--chaos-secret', SECRET], { ...env, CHAOS_SECRET: SECRET });
    expect({ code, failures: results.failures, stderr }).toEqual({ code: 0, failures: [], stderr: '' });
    expect(results.single.map((result) => result.client)).toEqual(['agent', 'undici']);
    for (const result of results.single) {
      expect({ lost: result.counts.lost, errorStatus: result.counts.errorStatus, exitCode: result.exitCode }).toEqual({ lost: 0, errorStatus: 0, exitCode: 0 });
      expect(result.counts.completed).toBeGreaterThan(0);
      expect(result.slowInFlightCompleted).toBe(result.slowInFlightAtSignal);
      expect(result.faults.sent).toBeGreaterThan(0);
      expect(result.faults).toMatchObject({ answered: result.faults.sent, injected: result.faults.sent });
    }
  }, 60_000);

  it('reports the requests a broken app loses, and exits 1', async () => {
    const { code, results } = await drill(path.join(__dirname, 'fixtures', 'broken-app.js'), ['--clients', 'agent'], env);
    expect(code).toBe(1);
    expect(results.single[0]!.counts.lost).toBeGreaterThan(0);
    expect(results.failures[0]).toMatch(/^single instance, agent: \d+ request\(s\) lost after sending/);
  }, 60_000);
});
