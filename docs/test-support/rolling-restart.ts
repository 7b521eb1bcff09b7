/** One instance behind the proxy, restarted by the driver. */
export interface RestartableInstance {
  readonly name: string;
  /** Stops the instance the way a deploy does (SIGTERM), waits for its exit, and starts it again. */
  restart(): Promise<void>;
}

/** What clients saw during a rolling restart. */
export interface RollingRestartResult {
  /** Requests answered 200. */
  readonly ok: number;
  /** Every request that was not answered 200: status or error, and when. */
  readonly failures: string[];
  /** 200 responses by the `instance` field of their JSON body. */
  readonly servedBy: Record<string, number>;
  readonly durationMs: number;
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Sends a bounded load of GETs to `url` through a proxy (keep-alive, `concurrency`
 * clients, a short pause between requests) while each instance in turn is
 * restarted; between restarts, waits until `upstreamsUp()` says the proxy routes
 * to every instance again, then `settleMs`. Stops the load once every restart is
 * done and at least `minRequests` were sent (never more than `maxRequests`).
 */
export async function runRollingRestart(options: {
  url: string;
  concurrency: number;
  instances: readonly RestartableInstance[];
  upstreamsUp: () => Promise<boolean>;
  settleMs?: number;
  minRequests?: number;
  maxRequests?: number;
  pauseMs?: number;
}): Promise<RollingRestartResult> {
  const { url, concurrency, instances, upstreamsUp, settleMs = 0, minRequests = 200, maxRequests = 3_000, pauseMs = 10 } = options;
  await until(upstreamsUp, 'every upstream up before the load', 15_000);
  const startedAt = Date.now();
  const failures: string[] = [];
  const servedBy: Record<string, number> = {};
  let ok = 0;
  let sent = 0;
  let restartsDone = false;

  const client = async (): Promise<void> => {
    while (sent < maxRequests && !(restartsDone && sent >= minRequests)) {
      sent++;
      const at = Date.now() - startedAt;
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        const text = await response.text();
        if (response.status === 200) {
          ok++;
          const instance = String((JSON.parse(text) as { instance?: unknown }).instance);
          servedBy[instance] = (servedBy[instance] ?? 0) + 1;
        } else {
          failures.push(`+${at} ms: HTTP ${response.status} ${text.slice(0, 200)}`);
        }
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        failures.push(`+${at} ms: ${(error as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`);
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  };

  const load = Promise.all(Array.from({ length: concurrency }, client));
  try {
    // Some traffic on every instance before the first restart.
    await until(async () => sent >= 20, 'the first requests', 10_000);
    for (const instance of instances) {
      await instance.restart();
      await until(upstreamsUp, `every upstream up after restarting ${instance.name}`, 15_000);
      if (settleMs > 0) await new Promise((resolve) => setTimeout(resolve, settleMs));
    }
  } finally {
    restartsDone = true;
    await load;
  }
  return { ok, failures, servedBy, durationMs: Date.now() - startedAt };
}
