import { runOutsideRequestContext } from './context';
import type { ResolvedHealthCheck } from './options';

/** How one health check ended. */
export interface HealthCheckResult {
  readonly status: 'ok' | 'failed' | 'timeout';
  readonly durationMs: number;
  /** Why it failed; put in probe bodies only when `verbose` is on. */
  readonly error?: string;
}

/** One check's call, from its start until it settles, whatever its timeout said meanwhile. */
interface Call {
  readonly startedAt: number;
  /** Resolves with the call's own outcome, once it settles. */
  readonly settled: Promise<HealthCheckResult>;
  /** Set once the call has settled. */
  outcome: HealthCheckResult | undefined;
}

/**
 * Runs health checks within their timeouts, one call in flight per check at a
 * time: probe requests during a call join it. A call that outlives its
 * timeout counts as failing (`'timeout'`) until it settles, and no second call
 * starts meanwhile, so a stuck dependency never gathers a pile of waiting
 * calls. A settled result is reused for `cacheTtl` ms.
 */
export class HealthCheckRunner {
  readonly #calls = new Map<ResolvedHealthCheck, Call>();
  readonly #results = new Map<ResolvedHealthCheck, { readonly result: HealthCheckResult; readonly at: number }>();

  constructor(
    /** How long, in ms, a settled result answers probes before the check is called again; 0 calls it for every probe. */
    readonly cacheTtl = 0,
  ) {}

  /** Runs every check at once and resolves with their results by name; never rejects. */
  async runAll(checks: readonly ResolvedHealthCheck[]): Promise<Record<string, HealthCheckResult>> {
    const results = await Promise.all(checks.map((check) => this.run(check)));
    return Object.fromEntries(checks.map((check, index) => [check.name, results[index]!]));
  }

  /** The result of one check: cached, the call in flight's, or a new call's; never rejects. */
  run(check: ResolvedHealthCheck): Promise<HealthCheckResult> {
    const cached = this.#results.get(check);
    if (cached !== undefined && Date.now() - cached.at < this.cacheTtl) return Promise.resolve(cached.result);
    let call = this.#calls.get(check);
    if (call !== undefined) {
      const elapsed = Date.now() - call.startedAt;
      // Past its timeout and still running: failing now, and no second call piles up behind it.
      if (elapsed >= check.timeout) return Promise.resolve(timedOut(check, elapsed));
      return withinTimeout(check, call);
    }
    // Shared by every probe request that joins it: the call runs in no request's context.
    call = runOutsideRequestContext(() => this.#start(check));
    return withinTimeout(check, call);
  }

  #start(check: ResolvedHealthCheck): Call {
    const startedAt = Date.now();
    const controller = new AbortController();
    const call: Call = {
      startedAt,
      outcome: undefined,
      settled: Promise.resolve()
        .then(() => check.check(controller.signal))
        .then(
          (value): HealthCheckResult =>
            value === false ? { status: 'failed', durationMs: Date.now() - startedAt, error: 'returned false' } : { status: 'ok', durationMs: Date.now() - startedAt },
          (error: unknown): HealthCheckResult => ({ status: 'failed', durationMs: Date.now() - startedAt, error: errorMessage(error) }),
        ),
    };
    this.#calls.set(check, call);
    // The timeout aborts the check's signal so it can cancel its work; the call still counts until it settles.
    const timer = setTimeout(() => controller.abort(new Error(`health check "${check.name}" timed out after ${check.timeout} ms`)), check.timeout);
    // A probe in flight must not keep a process that is otherwise done alive.
    timer.unref();
    void call.settled.then((outcome) => {
      clearTimeout(timer);
      call.outcome = outcome;
      if (this.#calls.get(check) === call) this.#calls.delete(check);
      // A call that settled after its timeout was answered as a timeout: cache what probes were told.
      const late = outcome.durationMs >= check.timeout;
      this.#results.set(check, { result: late ? timedOut(check, outcome.durationMs) : outcome, at: Date.now() });
    });
    return call;
  }
}

/** The call's outcome, or `'timeout'` once its time is up, whichever comes first. */
function withinTimeout(check: ResolvedHealthCheck, call: Call): Promise<HealthCheckResult> {
  if (call.outcome !== undefined) return Promise.resolve(call.outcome);
  const left = Math.max(0, check.timeout - (Date.now() - call.startedAt));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<HealthCheckResult>((resolve) => {
    timer = setTimeout(() => resolve(timedOut(check, Date.now() - call.startedAt)), left);
    timer.unref();
  });
  return Promise.race([call.settled, timeout]).finally(() => clearTimeout(timer));
}

function timedOut(check: ResolvedHealthCheck, durationMs: number): HealthCheckResult {
  return { status: 'timeout', durationMs, error: `timed out after ${check.timeout} ms` };
}

function errorMessage(error: unknown): string {
  try {
    if (error instanceof Error) return error.message;
  } catch {
    return 'failed';
  }
  if (typeof error === 'string') return error;
  return 'failed';
}
