import fs from 'node:fs';
import path from 'node:path';
import { describeEachExpress, startFixture, type RunningFixture } from '@keel/test-support';
import { get } from './helpers';

interface Line {
  event?: string;
  message?: string;
  level?: string;
  [key: string]: unknown;
}

const SECRET = 'a-long-enough-chaos-secret';
const fixture = path.join(__dirname, 'fixtures', 'keel-app.js');
const isLine = (line: unknown): line is Line => typeof line === 'object' && line !== null;

beforeAll(() => {
  // The fixture loads the packages from their build.
  for (const name of ['chaos', 'async-guard', 'lifecycle', 'drain']) {
    const dist = path.join(__dirname, '..', '..', name, 'dist', 'index.js');
    if (!fs.existsSync(dist)) throw new Error(`packages/${name}/dist is missing: run \`npm run build\` before these tests`);
  }
});

async function start(env: NodeJS.ProcessEnv): Promise<{ running: RunningFixture; url: string }> {
  const running = startFixture(fixture, { env, timeoutMs: 12_000 });
  const listening = (await running.waitFor((line) => isLine(line) && line.event === 'listening')) as Line;
  return { running, url: `http://127.0.0.1:${listening.port as number}` };
}

describeEachExpress('chaos() with the keel stack, in a child process', ({ major }) => {
  const env = { EXPRESS_MAJOR: String(major) };

  it('answers a throw from a timer on its own request, finishes the others, drains and exits 1', async () => {
    const { running, url } = await start(env);
    const inFlight = get(url, '/work?id=slow&ms=300');
    const faulted = await get(url, '/work', { 'x-keel-chaos': 'timer-throw', 'x-request-id': 'timer-1' });
    expect({ status: faulted.status, injected: faulted.headers!['x-keel-chaos-injected'], traceId: faulted.headers!['x-request-id'] }).toEqual({ status: 500, injected: 'timer-throw', traceId: 'timer-1' });
    expect(faulted.body).not.toContain('Injected');
    const slow = await inFlight;
    expect({ status: slow.status, body: slow.body }).toEqual({ status: 200, body: 'done slow' });
    const result = await running.exited;
    expect(result.code).toBe(1);
    expect(result.lines.filter(isLine).find((line) => line.event === 'stopped')).toEqual({ event: 'stopped', exitCode: 1 });
    const inject = result.lines.filter(isLine).find((line) => line.event === 'inject')!;
    expect(inject).toMatchObject({ event: 'inject', fault: 'timer-throw', rule: 'timer-throw' });
    // The fault is logged once, on the request it belongs to.
    expect(result.lines.filter(isLine).filter((line) => line.level === 'error' && line.traceId === inject.traceId).length).toBeGreaterThan(0);
  });

  it('answers an unhandled rejection on its own request, keeps serving, and drains on SIGTERM with exit 0', async () => {
    const { running, url } = await start(env);
    const faulted = await get(url, '/work', { 'x-keel-chaos': 'unhandled-rejection', 'x-request-id': 'rejection-1' });
    expect({ status: faulted.status, injected: faulted.headers!['x-keel-chaos-injected'] }).toEqual({ status: 500, injected: 'unhandled-rejection' });
    expect((await get(url, '/work?id=after')).body).toBe('done after');
    const inFlight = get(url, '/work?id=drained&ms=200');
    await running.waitFor((line) => isLine(line) && line.event === 'inject' && line.fault === 'unhandled-rejection');
    await new Promise((resolve) => setTimeout(resolve, 50));
    running.kill('SIGTERM');
    expect((await inFlight).body).toBe('done drained');
    const result = await running.exited;
    expect(result.code).toBe(0);
  });
});

describe('chaos() under NODE_ENV=production, in a child process', () => {
  it('stays inert without allowInProduction and a secret, and says so once', async () => {
    const { running, url } = await start({ NODE_ENV: 'production' });
    const reply = await get(url, '/work?id=1', { 'x-keel-chaos': 'error' });
    expect({ status: reply.status, body: reply.body, injected: reply.headers!['x-keel-chaos-injected'] }).toEqual({ status: 200, body: 'done 1', injected: undefined });
    running.kill('SIGTERM');
    const result = await running.exited;
    const warnings = result.lines.filter(isLine).filter((line) => typeof line.message === 'string' && line.message.startsWith('@keel/chaos'));
    expect(warnings.map((line) => line.message)).toEqual(['@keel/chaos: enabled, but inert under NODE_ENV=production without allowInProduction and a secret']);
  });

  it('injects only with the secret when allowed in production, and never logs the secret', async () => {
    const { running, url } = await start({ NODE_ENV: 'production', CHAOS_SECRET: SECRET });
    for (const value of ['error', 'error; secret=not-the-right-secret', `error; secret=${SECRET.toUpperCase()}`]) {
      const reply = await get(url, '/work?id=1', { 'x-keel-chaos': value });
      expect({ value, status: reply.status, injected: reply.headers!['x-keel-chaos-injected'] }).toEqual({ value, status: 200, injected: undefined });
    }
    const hit = await get(url, '/work?id=1', { 'x-keel-chaos': `error; secret=${SECRET}` });
    expect({ status: hit.status, injected: hit.headers!['x-keel-chaos-injected'] }).toEqual({ status: 500, injected: 'error' });
    running.kill('SIGTERM');
    const result = await running.exited;
    expect(result.code).toBe(0);
    expect(result.stdout + result.stderr).not.toContain(SECRET);
    expect(result.lines.filter(isLine).filter((line) => line.event === 'inject')).toHaveLength(1);
  });
});
