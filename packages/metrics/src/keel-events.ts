import diagnosticsChannel from 'node:diagnostics_channel';
import { peekDefaultLifecycle, type Lifecycle } from '@keel/lifecycle';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { metricIn } from './http-metrics';
import { BoundedLabel } from './labels';
import type { ResolvedMetricsOptions } from './options';

/** The channels recorded, as the publishing packages name them. */
export const KEEL_CHANNELS = Object.freeze({
  timeoutAbort: 'keel:timeout:abort',
  timeoutLateWrite: 'keel:timeout:late-write',
  errorAnswer: 'keel:error-handler:answer',
  fault: 'keel:async-guard:fault',
  lifecycleState: 'keel:lifecycle:state',
  lifecyclePhase: 'keel:lifecycle:phase',
  lifecycleShutdown: 'keel:lifecycle:shutdown',
  drainDeregister: 'keel:drain:deregister',
  drainComplete: 'keel:drain:complete',
  outboundAttempt: 'keel:outbound:attempt',
  outboundRetry: 'keel:outbound:retry',
  outboundBudgetRefused: 'keel:outbound:budget-refused',
  outboundBreaker: 'keel:outbound:breaker',
  outboundResult: 'keel:outbound:result',
  chaosInject: 'keel:chaos:inject',
});

const LIFECYCLE_STATES = ['starting', 'ready', 'draining', 'stopping', 'stopped'] as const;
const BREAKER_STATES = ['closed', 'half-open', 'open'] as const;
const ABORT_REASONS = new Set(['deadline', 'disconnect', 'shutdown']);
const FAULT_KINDS = new Set(['uncaughtException', 'unhandledRejection', 'errorAfterNext', 'nextTwice']);
const SOCKET_CAUSES: Readonly<Record<string, string>> = { afterResponse: 'after_response', idle: 'idle', neverSent: 'never_sent', byClient: 'by_client', forced: 'forced' };
const PHASES = new Set(['deregister', 'drain', 'beacons', 'cleanup', 'flush']);
// Codes are upper snake case by convention (ERR_KEEL_*, NOT_FOUND); anything else is someone's free text.
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

type Message = Record<string, unknown>;

function field(message: unknown, name: string): unknown {
  return typeof message === 'object' && message !== null ? (message as Message)[name] : undefined;
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** One registry's keel metrics, and the subscriptions that feed them. */
class KeelEventMetrics {
  readonly unsubscribers: Array<() => void> = [];
  readonly codes: BoundedLabel;
  readonly origins: BoundedLabel;
  readonly servers: BoundedLabel;
  readonly faults: BoundedLabel;

  readonly aborts: Counter<'reason'>;
  readonly lateWrites: Counter<'reason'>;
  readonly errors: Counter<'status_code' | 'code'>;
  readonly processFaults: Counter<'kind'>;
  readonly state: Gauge<'state'>;
  readonly phaseDuration: Gauge<'phase'>;
  readonly shutdownDuration: Gauge;
  readonly shutdowns: Counter<'result'>;
  readonly drainInFlight: Gauge<'server'>;
  readonly drainServed: Counter<'server'>;
  readonly drainSockets: Counter<'server' | 'cause'>;
  readonly drainAborted: Counter<'server'>;
  readonly drains: Counter<'server' | 'result'>;
  readonly drainDuration: Gauge<'server'>;
  readonly attempts: Counter<'origin'>;
  readonly retries: Counter<'origin'>;
  readonly budgetRefusals: Counter<'origin'>;
  readonly breaker: Gauge<'origin' | 'state'>;
  readonly results: Counter<'origin' | 'outcome'>;
  readonly callDuration: Histogram<'origin'>;
  readonly chaos: Counter<'fault'>;

  constructor(
    registry: Registry,
    readonly options: ResolvedMetricsOptions,
  ) {
    const max = options.maxLabelValues;
    this.codes = new BoundedLabel(max);
    this.origins = new BoundedLabel(max);
    this.servers = new BoundedLabel(max);
    this.faults = new BoundedLabel(max);
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> =>
      metricIn(registry, name, (registers) => new Counter<L>({ name, help, labelNames, registers }));
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> =>
      metricIn(registry, name, (registers) => new Gauge<L>({ name, help, labelNames, registers }));

    this.aborts = counter('keel_timeout_aborts_total', 'Request signals aborted by @keel/timeout, by reason: deadline, disconnect, shutdown.', ['reason']);
    this.lateWrites = counter('keel_timeout_late_writes_total', 'Responses whose handler wrote after the early answer (the write was dropped), by why it was answered early.', ['reason']);
    this.errors = counter('keel_errors_answered_total', 'Errors answered by @keel/error-handler, by status code and stable error code.', ['status_code', 'code']);
    this.processFaults = counter('keel_process_faults_total', 'Faults that reached @keel/async-guard, by kind: uncaughtException, unhandledRejection, errorAfterNext, nextTwice.', ['kind']);
    this.state = gauge('keel_lifecycle_state', 'The lifecycle state: 1 for the current one (starting, ready, draining, stopping, stopped), 0 for the others.', ['state']);
    this.phaseDuration = gauge('keel_shutdown_phase_duration_seconds', 'How long each step of the last shutdown took: deregister, drain, beacons, cleanup, flush.', ['phase']);
    this.shutdownDuration = gauge('keel_shutdown_duration_seconds', 'How long the last shutdown took in all.');
    this.shutdowns = counter('keel_shutdowns_total', 'Shutdowns ended, by result: clean (exit code 0) or failed.', ['result']);
    this.drainInFlight = gauge('keel_drain_in_flight_requests', 'Requests in flight on the server when its shutdown started.', ['server']);
    this.drainServed = counter('keel_drain_requests_served_total', 'Responses completed during the drain of the server.', ['server']);
    this.drainSockets = counter('keel_drain_sockets_closed_total', 'Sockets closed during the drain, by cause: after_response, idle, never_sent, by_client, forced.', ['server', 'cause']);
    this.drainAborted = counter('keel_drain_requests_aborted_total', 'Requests still running at the drain deadline, aborted.', ['server']);
    this.drains = counter('keel_drains_total', 'Drains ended, by result: clean (nothing aborted or cut) or unclean.', ['server', 'result']);
    this.drainDuration = gauge('keel_drain_duration_seconds', 'How long the last drain of the server took, from the listener closing to its last socket.', ['server']);
    this.attempts = counter('keel_outbound_attempts_total', 'Outbound attempts started (first tries and retries), by origin.', ['origin']);
    this.retries = counter('keel_outbound_retries_total', 'Outbound retries, by origin.', ['origin']);
    this.budgetRefusals = counter('keel_outbound_budget_refusals_total', 'Outbound retries refused by the retry budget, by origin.', ['origin']);
    this.breaker = gauge('keel_outbound_breaker_state', 'The circuit breaker of each origin: 1 for its current state (closed, half-open, open), 0 for the others.', ['origin', 'state']);
    this.results = counter('keel_outbound_results_total', 'Outbound calls ended, by origin and outcome.', ['origin', 'outcome']);
    this.callDuration = metricIn(registry, 'keel_outbound_call_duration_seconds', (registers) => new Histogram({
      name: 'keel_outbound_call_duration_seconds',
      help: 'Outbound calls from start to end, retries and their waits included, by origin.',
      labelNames: ['origin'] as const,
      buckets: [...options.buckets],
      registers,
    }));
    this.chaos = counter('keel_chaos_injections_total', 'Faults injected by @keel/chaos, by fault.', ['fault']);

    // Series that alerts compare against exist from the first scrape, at 0.
    for (const reason of ABORT_REASONS) {
      this.aborts.inc({ reason }, 0);
      this.lateWrites.inc({ reason }, 0);
    }
    for (const kind of FAULT_KINDS) this.processFaults.inc({ kind }, 0);
    const lifecycle = options.lifecycle ?? peekDefaultLifecycle();
    this.setState(lifecycle?.state ?? 'starting');
  }

  setState(current: string): void {
    for (const state of LIFECYCLE_STATES) this.state.set({ state }, state === current ? 1 : 0);
  }

  ownLifecycle(lifecycle: unknown): boolean {
    return this.options.lifecycle === undefined || this.options.lifecycle === (lifecycle as Lifecycle);
  }

  subscribe(name: string, onMessage: (message: unknown) => void): void {
    const listener = (message: unknown): void => {
      // A subscriber that throws becomes an uncaught exception in the publisher's process.
      try {
        onMessage(message);
      } catch {
        // A malformed message is not recorded.
      }
    };
    diagnosticsChannel.subscribe(name, listener);
    this.unsubscribers.push(() => diagnosticsChannel.unsubscribe(name, listener));
  }

  start(): void {
    this.subscribe(KEEL_CHANNELS.timeoutAbort, (message) => {
      const reason = field(message, 'reason');
      if (typeof reason === 'string' && ABORT_REASONS.has(reason)) this.aborts.inc({ reason });
    });
    this.subscribe(KEEL_CHANNELS.timeoutLateWrite, (message) => {
      const reason = field(message, 'reason');
      this.lateWrites.inc({ reason: typeof reason === 'string' && ABORT_REASONS.has(reason) ? reason : 'other' });
    });
    this.subscribe(KEEL_CHANNELS.errorAnswer, (message) => {
      const status = field(message, 'status');
      const code = field(message, 'code');
      const statusCode = typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599 ? String(status) : 'other';
      this.errors.inc({ status_code: statusCode, code: typeof code === 'string' && CODE.test(code) ? this.codes.of(code) : 'other' });
    });
    this.subscribe(KEEL_CHANNELS.fault, (message) => {
      const kind = field(message, 'kind');
      this.processFaults.inc({ kind: typeof kind === 'string' && FAULT_KINDS.has(kind) ? kind : 'other' });
    });
    this.subscribe(KEEL_CHANNELS.lifecycleState, (message) => {
      const state = field(message, 'state');
      if (this.ownLifecycle(field(message, 'lifecycle')) && typeof state === 'string') this.setState(state);
    });
    this.subscribe(KEEL_CHANNELS.lifecyclePhase, (message) => {
      const phase = field(message, 'phase');
      const durationMs = finite(field(message, 'durationMs'));
      if (!this.ownLifecycle(field(message, 'lifecycle')) || typeof phase !== 'string' || !PHASES.has(phase) || durationMs === undefined) return;
      this.phaseDuration.set({ phase }, durationMs / 1000);
    });
    this.subscribe(KEEL_CHANNELS.lifecycleShutdown, (message) => {
      const report = field(message, 'report');
      if (!this.ownLifecycle(field(message, 'lifecycle'))) return;
      const durationMs = finite(field(report, 'durationMs'));
      if (durationMs !== undefined) this.shutdownDuration.set(durationMs / 1000);
      this.shutdowns.inc({ result: field(report, 'exitCode') === 0 ? 'clean' : 'failed' });
      const preStop = finite(field(report, 'preStopDelayMs'));
      if (preStop !== undefined) this.phaseDuration.set({ phase: 'deregister' }, preStop / 1000);
      const beacons = finite(field(report, 'beaconWaitMs'));
      if (beacons !== undefined) this.phaseDuration.set({ phase: 'beacons' }, beacons / 1000);
      const phases = field(report, 'phases');
      for (const entry of Array.isArray(phases) ? phases : []) {
        const phase = field(entry, 'phase');
        const ms = finite(field(entry, 'durationMs'));
        if (typeof phase === 'string' && PHASES.has(phase) && ms !== undefined) this.phaseDuration.set({ phase }, ms / 1000);
      }
    });
    this.subscribe(KEEL_CHANNELS.drainDeregister, (message) => {
      const inFlight = finite(field(message, 'inFlight'));
      const server = this.servers.of(field(message, 'server'));
      if (inFlight !== undefined) this.drainInFlight.set({ server }, inFlight);
      // From 0 before the drain ends, so rate() and increase() see the step a last scrape brings.
      this.drainServed.inc({ server }, 0);
      this.drainAborted.inc({ server }, 0);
      for (const cause of Object.values(SOCKET_CAUSES)) this.drainSockets.inc({ server, cause }, 0);
      for (const result of ['clean', 'unclean']) this.drains.inc({ server, result }, 0);
    });
    this.subscribe(KEEL_CHANNELS.drainComplete, (message) => {
      const report = field(message, 'report');
      const server = this.servers.of(field(report, 'server'));
      this.drainServed.inc({ server }, finite(field(report, 'servedDuringDrain')) ?? 0);
      this.drainAborted.inc({ server }, finite(field(report, 'abortedRequests')) ?? 0);
      const sockets = field(report, 'sockets');
      for (const [cause, label] of Object.entries(SOCKET_CAUSES)) this.drainSockets.inc({ server, cause: label }, finite(field(sockets, cause)) ?? 0);
      this.drains.inc({ server, result: field(report, 'clean') === true ? 'clean' : 'unclean' });
      const durationMs = finite(field(report, 'durationMs'));
      if (durationMs !== undefined) this.drainDuration.set({ server }, durationMs / 1000);
    });
    this.subscribe(KEEL_CHANNELS.outboundAttempt, (message) => this.attempts.inc({ origin: this.origins.of(field(message, 'origin')) }));
    this.subscribe(KEEL_CHANNELS.outboundRetry, (message) => this.retries.inc({ origin: this.origins.of(field(message, 'origin')) }));
    this.subscribe(KEEL_CHANNELS.outboundBudgetRefused, (message) => this.budgetRefusals.inc({ origin: this.origins.of(field(message, 'origin')) }));
    this.subscribe(KEEL_CHANNELS.outboundBreaker, (message) => {
      const state = field(message, 'state');
      if (typeof state !== 'string' || !(BREAKER_STATES as readonly string[]).includes(state)) return;
      const origin = this.origins.of(field(message, 'origin'));
      for (const each of BREAKER_STATES) this.breaker.set({ origin, state: each }, each === state ? 1 : 0);
    });
    this.subscribe(KEEL_CHANNELS.outboundResult, (message) => {
      const origin = this.origins.of(field(message, 'origin'));
      this.results.inc({ origin, outcome: outcomeOf(message) });
      const durationMs = finite(field(message, 'durationMs'));
      if (durationMs !== undefined) this.callDuration.observe({ origin }, durationMs / 1000);
    });
    this.subscribe(KEEL_CHANNELS.chaosInject, (message) => {
      this.chaos.inc({ fault: this.faults.of(field(message, 'fault') ?? field(message, 'kind')) });
    });
  }
}

/**
 * The outcome label of an outbound result: the status class of a response
 * delivered (`2xx`, `4xx`, `5xx`...), else the call's outcome (`error`,
 * `circuit-open`, `aborted`) when it is a short lower-case word, else `other`.
 */
function outcomeOf(message: unknown): string {
  const status = field(message, 'statusCode') ?? field(message, 'status');
  if (typeof status === 'number' && Number.isInteger(status) && status >= 100 && status <= 599) return `${Math.floor(status / 100)}xx`;
  const outcome = field(message, 'outcome');
  if (typeof outcome === 'string' && /^[a-z][a-z0-9_-]{0,31}$/.test(outcome)) return outcome;
  return field(message, 'error') !== undefined || field(message, 'errorCode') !== undefined ? 'error' : 'other';
}

interface Subscription {
  refs: number;
  metrics: KeelEventMetrics;
}

const subscriptions = new WeakMap<Registry, Subscription>();

/**
 * Registers the keel metrics in `registry` and subscribes them to the keel
 * channels, once per registry however many `metrics()` share it. Returns the
 * function that unsubscribes (when every sharer has).
 */
export function subscribeKeelEvents(registry: Registry, options: ResolvedMetricsOptions): () => void {
  let subscription = subscriptions.get(registry);
  if (subscription === undefined) {
    const created: Subscription = { refs: 0, metrics: new KeelEventMetrics(registry, options) };
    created.metrics.start();
    subscriptions.set(registry, created);
    subscription = created;
  }
  subscription.refs++;
  const owned = subscription;
  let disposed = false;
  return () => {
    if (disposed) return;
    disposed = true;
    if (--owned.refs > 0) return;
    for (const unsubscribe of owned.metrics.unsubscribers) unsubscribe();
    subscriptions.delete(registry);
  };
}
