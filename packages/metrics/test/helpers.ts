import http from 'node:http';
import { Registry } from 'prom-client';
import { createLifecycle, type Lifecycle, type Logger } from '@keel/lifecycle';

/** One sample of a scrape: its name, labels and value. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses Prometheus' text format (the subset prom-client writes). */
export function parseScrape(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sums the samples named `name` whose labels include `labels`. */
export function valueOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((total, sample) => total + sample.value, 0);
}

/** The distinct values of label `label` among samples named `name`. */
export function labelValues(samples: readonly Sample[], name: string, label: string): string[] {
  return [...new Set(samples.filter((sample) => sample.name === name).map((sample) => sample.labels[label]!))].sort();
}

/** GETs `url` over a fresh connection and resolves with status, headers and body. */
export function get(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    });
    request.on('error', reject);
  });
}

/** Scrapes `url` and parses it. */
export async function scrape(url: string): Promise<Sample[]> {
  const response = await get(url);
  if (response.status !== 200) throw new Error(`scrape of ${url} answered ${response.status}`);
  return parseScrape(response.body);
}

/** A fresh registry per test, so nothing leaks between tests. */
export function freshRegistry(): Registry {
  return new Registry();
}

/** A logger that drops everything. */
export const silentLogger: Logger = { error() {}, warn() {}, info() {} };

/** A lifecycle that listens to no signal and never exits the process. */
export function testLifecycle(options: { shutdownTimeout?: number; preStopDelay?: number } = {}): Lifecycle {
  return createLifecycle({ signals: [], exit: false, shutdownTimeout: 4000, preStopDelay: 0, logger: silentLogger, ...options });
}

/** An app server and its metrics server, both on 127.0.0.1. */
export interface Served {
  readonly url: string;
  readonly metricsUrl: string;
  readonly server: http.Server;
  scrape(): Promise<Sample[]>;
  close(): Promise<void>;
}

/** Starts `app` and a metrics server for `registry`, each on a free port of 127.0.0.1. */
export async function serve(app: http.RequestListener, registry: Registry, lifecycle?: Lifecycle): Promise<Served> {
  // Imported here so the helper loads the package under test from its sources.
  const { serveMetrics } = await import('@keel/metrics');
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  const metricsServer = serveMetrics({ port: 0, registry, ...(lifecycle !== undefined ? { lifecycle } : {}) });
  const metricsUrl = await metricsServer.ready;
  return {
    url: `http://127.0.0.1:${port}`,
    metricsUrl,
    server,
    scrape: () => scrape(metricsUrl),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
      await metricsServer.close();
    },
  };
}
