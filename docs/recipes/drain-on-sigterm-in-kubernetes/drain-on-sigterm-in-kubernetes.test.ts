import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parse } from 'yaml';
import { parseDuration } from '@keel/lifecycle';
import type { RunningFixture } from '@keel/test-support';
import { EXPRESS_MAJORS, freePort, startRecipeApp, waitForPort } from '../../test-support';

const APP = path.join(__dirname, 'app.js');
const DEPLOYMENT = path.join(__dirname, 'deployment.yaml');

/** Time the process needs past its budget to exit, and the kubelet to notice, before SIGKILL is due. */
const EXIT_MARGIN_MS = 2_000;
/** How long kube-proxy and ingresses may take to learn that a pod is terminating. */
const ENDPOINT_PROPAGATION_MS = 5_000;

interface HttpProbe {
  httpGet?: { path?: string; port?: string | number };
  periodSeconds?: number;
  failureThreshold?: number;
  timeoutSeconds?: number;
}

interface Container {
  name: string;
  command?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: Array<{ name: string; value?: string }>;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: { command: string[] } } };
  startupProbe?: HttpProbe;
  readinessProbe?: HttpProbe;
  livenessProbe?: HttpProbe;
}

interface Deployment {
  kind: string;
  spec: { template: { spec: { terminationGracePeriodSeconds?: number; containers: Container[] } } };
}

/** The container's env as a process would see it. */
function envOf(container: Container): Record<string, string> {
  return Object.fromEntries((container.env ?? []).map(({ name, value }) => [name, value ?? '']));
}

/** Seconds the preStop hook sleeps: the `sleep` action, or `exec: sleep N`. */
function preStopSeconds(container: Container): number {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep) return preStop.sleep.seconds;
  const command = preStop?.exec?.command ?? [];
  const index = command.findIndex((part) => /(^|\/)sleep$/.test(part));
  return index === -1 ? 0 : Number(command[index + 1]);
}

/**
 * Checks a Deployment against the keel budget its container's env gives the
 * app, the way app.js reads it; returns the problems found (none is a pass).
 */
export function checkDeployment(deployment: Deployment): string[] {
  const problems: string[] = [];
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0]!;
  const env = envOf(container);
  // The same parse as createLifecycle(): what the app will run with.
  const budgetMs = parseDuration(env.SHUTDOWN_TIMEOUT ?? '25s');
  const preStopDelayMs = env.PRE_STOP_DELAY === undefined || env.PRE_STOP_DELAY === 'auto' ? Math.min(5_000, Math.floor((budgetMs ?? 0) / 5)) : parseDuration(env.PRE_STOP_DELAY);
  if (budgetMs === undefined) problems.push(`SHUTDOWN_TIMEOUT "${env.SHUTDOWN_TIMEOUT}" is not a duration`);
  if (preStopDelayMs === undefined) problems.push(`PRE_STOP_DELAY "${env.PRE_STOP_DELAY}" is not a duration`);
  const sleepMs = preStopSeconds(container) * 1000;
  const graceMs = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
  if (budgetMs !== undefined && sleepMs + budgetMs + EXIT_MARGIN_MS > graceMs) {
    problems.push(`terminationGracePeriodSeconds (${graceMs / 1000} s) must cover the preStop sleep (${sleepMs / 1000} s) + keel's shutdownTimeout (${budgetMs / 1000} s) + ${EXIT_MARGIN_MS / 1000} s`);
  }
  if (preStopDelayMs !== undefined && budgetMs !== undefined && preStopDelayMs >= budgetMs) problems.push('PRE_STOP_DELAY must be less than SHUTDOWN_TIMEOUT');
  if (preStopDelayMs !== undefined && sleepMs + preStopDelayMs < ENDPOINT_PROPAGATION_MS) {
    problems.push(`the preStop sleep plus PRE_STOP_DELAY (${(sleepMs + preStopDelayMs) / 1000} s) leave endpoints less than ${ENDPOINT_PROPAGATION_MS / 1000} s to update`);
  }
  const port = container.ports?.[0];
  const expected: Array<[keyof Container, string]> = [
    ['startupProbe', '/startupz'],
    ['readinessProbe', '/readyz'],
    ['livenessProbe', '/livez'],
  ];
  for (const [probe, probePath] of expected) {
    const spec = container[probe] as HttpProbe | undefined;
    if (spec?.httpGet?.path !== probePath) problems.push(`${probe} must GET ${probePath} (found ${spec?.httpGet?.path})`);
    if (spec?.httpGet?.port !== port?.name && spec?.httpGet?.port !== port?.containerPort) problems.push(`${probe} must use the container port`);
    // keel's health checks time out at 500 ms, so a probe gets an answer within its timeout.
    if ((spec?.timeoutSeconds ?? 1) * 1000 <= 500) problems.push(`${probe}.timeoutSeconds must exceed keel's 500 ms check timeout`);
  }
  if (String(port?.containerPort) !== env.PORT) problems.push(`PORT (${env.PORT}) must be the containerPort (${port?.containerPort})`);
  if (container.command?.[0] !== 'node') problems.push('the command must start node itself (npm and sh do not forward SIGTERM)');
  return problems;
}

function loadDeployment(): Deployment {
  return parse(fs.readFileSync(DEPLOYMENT, 'utf8')) as Deployment;
}

function get(port: number, urlPath: string, agent?: http.Agent): Promise<{ status: number; body: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: urlPath, agent }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body, connection: response.headers.connection }));
    });
    request.on('error', reject);
  });
}

describe('recipe: drain on SIGTERM in Kubernetes (deployment.yaml)', () => {
  it('gives the pod a grace period that covers preStop plus the keel budget, and probes keel serves', () => {
    const deployment = loadDeployment();
    expect(deployment.kind).toBe('Deployment');
    expect(checkDeployment(deployment)).toEqual([]);
  });

  it('fails the check when the grace period does not cover the budget, or liveness probes /readyz', () => {
    const short = loadDeployment();
    short.spec.template.spec.terminationGracePeriodSeconds = 30;
    expect(checkDeployment(short)).toEqual([expect.stringContaining('terminationGracePeriodSeconds (30 s)')]);

    const longerBudget = loadDeployment();
    longerBudget.spec.template.spec.containers[0]!.env!.find((entry) => entry.name === 'SHUTDOWN_TIMEOUT')!.value = '40s';
    expect(checkDeployment(longerBudget)).toEqual([expect.stringContaining('keel\'s shutdownTimeout (40 s)')]);

    const liveOnReady = loadDeployment();
    liveOnReady.spec.template.spec.containers[0]!.livenessProbe!.httpGet!.path = '/readyz';
    expect(checkDeployment(liveOnReady)).toEqual([expect.stringContaining('livenessProbe must GET /livez')]);
  });
});

describe.each(EXPRESS_MAJORS)('recipe: drain on SIGTERM in Kubernetes (app.js on Express %i, with the Deployment\'s env)', (major) => {
  let app: RunningFixture;
  let port: number;

  beforeEach(async () => {
    const container = loadDeployment().spec.template.spec.containers[0]!;
    port = await freePort();
    // The container's env as the kubelet sets it, on a free port instead of 3000.
    app = startRecipeApp(APP, { express: major, env: { ...envOf(container), PORT: String(port), KUBERNETES_SERVICE_HOST: '10.96.0.1' } });
    await waitForPort(port);
  });

  afterEach(async () => {
    app.kill('SIGKILL');
    await app.exited;
  });

  it('passes the startup, readiness and liveness probes once listening, their bodies saying up and nothing else', async () => {
    for (const probe of ['/startupz', '/readyz', '/livez']) {
      const response = await get(port, probe);
      expect({ probe, status: response.status, body: response.body }).toEqual({ probe, status: 200, body: '{"status":"ok"}' });
    }
  });

  it('on SIGTERM finishes the request in flight, refuses new work, and exits 0 within the Deployment\'s budget', async () => {
    const agent = new http.Agent({ keepAlive: true });
    expect((await get(port, '/readyz', agent)).status).toBe(200);
    const inFlight = get(port, '/report?ms=400', agent);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const signalledAt = Date.now();
    app.kill('SIGTERM');
    await app.waitFor(/"message":"shutdown started"/);

    // From the signal on, readiness never passes again: 503, or refused once the listener is closed.
    const readiness = await get(port, '/readyz').then(({ status }) => status, (error: NodeJS.ErrnoException) => error.code);
    expect([503, 'ECONNREFUSED', 'ECONNRESET']).toContain(readiness);

    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ done: true });
    expect(response.connection).toBe('close');

    const result = await app.exited;
    agent.destroy();
    expect(result.code).toBe(0);
    const started = result.lines.find((line) => (line as { message?: string }).message === 'shutdown started') as { budgetMs: number; preStopDelayMs: number };
    expect(started).toMatchObject({ budgetMs: 25_000, preStopDelayMs: 0 });
    const report = (result.lines.find((line) => (line as { message?: string }).message === 'shutdown complete') as { report: { exitCode: number; durationMs: number } }).report;
    expect(report.exitCode).toBe(0);
    // Drained in well under the budget: the request took 400 ms, not 25 s.
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    await expect(get(port, '/readyz')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
