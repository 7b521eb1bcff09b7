import type { ResolvedHealthCheck } from './options';

/** How one health check ended. */
export interface HealthCheckResult {
  readonly status: 'ok' | 'failed' | 'timeout';
  readonly durationMs: number;
  /** Why it failed; put in probe bodies only when `verbose` is on. */
  readonly error?: string;
}

/** Runs health checks within their timeouts; concurrent runs of one check share the run in flight. */
export class HealthCheckRunner {
  readonly #inFlight = new Map<ResolvedHealthCheck, Promise<HealthCheckResult>>();

  /** Runs every check at once and resolves with their results by name; never rejects. */
  async runAll(checks: readonly ResolvedHealthCheck[]): Promise<Record<string, HealthCheckResult>> {
    const results = await Promise.all(checks.map((check) => this.run(check)));
    return Object.fromEntries(checks.map((check, index) => [check.name, results[index]!]));
  }

  /** Runs one check, or joins its run in flight. */
  run(check: ResolvedHealthCheck): Promise<HealthCheckResult> {
    let running = this.#inFlight.get(check);
    if (running === undefined) {
      running = runCheck(check).finally(() => this.#inFlight.delete(check));
      this.#inFlight.set(check, running);
    }
    return running;
  }
}

async function runCheck(check: ResolvedHealthCheck): Promise<HealthCheckResult> {
  const startedAt = Date.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), check.timeout);
    // A probe in flight must not keep a process that is otherwise done alive.
    timer.unref();
  });
  try {
    const value = await Promise.race([Promise.resolve().then(() => check.check(controller.signal)), timedOut]);
    if (value === 'timeout') {
      controller.abort(new Error(`health check "${check.name}" timed out after ${check.timeout} ms`));
      return { status: 'timeout', durationMs: Date.now() - startedAt, error: `timed out after ${check.timeout} ms` };
    }
    if (value === false) return { status: 'failed', durationMs: Date.now() - startedAt, error: 'returned false' };
    return { status: 'ok', durationMs: Date.now() - startedAt };
  } catch (error) {
    return { status: 'failed', durationMs: Date.now() - startedAt, error: errorMessage(error) };
  } finally {
    clearTimeout(timer);
  }
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  return 'failed';
}
