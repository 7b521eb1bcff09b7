import { SlidingCounts } from './window';
import type { ResolvedRetryBudgetOptions } from './options';

/**
 * One origin's retry budget (after Finagle's and Envoy's): retries in the window
 * stay within `ratio` of the first attempts in it, plus `minRetries`. When a
 * dependency is down, every caller's first attempt fails and asks to retry: the
 * budget lets only a share through, so the dependency sees about `1 + ratio`
 * times its normal load from this process, never `attempts` times.
 */
export class RetryBudget {
  // first: first attempts; second: retries.
  readonly #counts: SlidingCounts;

  constructor(readonly options: ResolvedRetryBudgetOptions) {
    this.#counts = new SlidingCounts(options.window);
  }

  /** Counts a call's first attempt. */
  recordFirstAttempt(): void {
    this.#counts.addFirst();
  }

  /** Takes one retry from the budget; false (and nothing taken) when none is left. */
  tryRetry(): boolean {
    const allowed = this.options.minRetries + this.options.ratio * this.#counts.first;
    if (this.#counts.second + 1 > allowed) return false;
    this.#counts.addSecond();
    return true;
  }
}
