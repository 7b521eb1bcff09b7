import { performance } from 'node:perf_hooks';
import { SlidingCounts } from './window';
import type { ResolvedBreakerOptions } from './options';

/** A circuit's state: `closed` lets calls through, `open` fails them at once, `half-open` lets one trial through. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Whether a call may go: `trial` when it is the one call a half-open circuit lets through. */
export type Admission = { readonly admitted: true; readonly trial: boolean } | { readonly admitted: false; readonly retryAfterMs: number };

const ADMITTED: Admission = Object.freeze({ admitted: true, trial: false });
const TRIAL: Admission = Object.freeze({ admitted: true, trial: true });

/**
 * One origin's circuit breaker. Attempts are counted over a sliding window; once
 * it holds `minimumCalls` and the failed share reaches `threshold`, the circuit
 * opens for `cooldown`, then lets a single trial call through: its success
 * closes the circuit, its failure opens it for another cooldown.
 */
export class CircuitBreaker {
  // first: failed attempts; second: successful ones.
  readonly #counts: SlidingCounts;
  #state: BreakerState = 'closed';
  #openUntil = 0;
  #trialInFlight = false;

  constructor(
    readonly options: ResolvedBreakerOptions,
    private readonly onChange: (state: BreakerState, previous: BreakerState, failures: number, calls: number) => void,
  ) {
    this.#counts = new SlidingCounts(options.window);
  }

  /** The state now (an open circuit past its cooldown reads `half-open` only once a call asks). */
  get state(): BreakerState {
    return this.#state;
  }

  /** Asks to start a call; a trial call must report its outcome with `trial: true`. */
  admit(): Admission {
    if (this.#state === 'closed') return ADMITTED;
    const now = performance.now();
    if (this.#state === 'open') {
      if (now < this.#openUntil) return { admitted: false, retryAfterMs: this.#openUntil - now };
      this.#set('half-open');
    }
    if (this.#trialInFlight) return { admitted: false, retryAfterMs: this.options.cooldown };
    this.#trialInFlight = true;
    return TRIAL;
  }

  /** True when a retry may go now: only while closed (a failing dependency gets no retries). */
  get allowsRetry(): boolean {
    return this.#state === 'closed';
  }

  /** Reports one attempt's outcome. */
  record(success: boolean, trial: boolean): void {
    if (trial) {
      this.#trialInFlight = false;
      if (this.#state !== 'half-open') return;
      if (success) {
        this.#counts.reset();
        this.#set('closed');
      } else {
        this.#open();
      }
      return;
    }
    // Attempts started before the circuit opened do not count against the next window.
    if (this.#state !== 'closed') return;
    if (success) {
      // A success only lowers the failed share: nothing to decide.
      this.#counts.addSecond();
      return;
    }
    this.#counts.addFirst();
    const failures = this.#counts.first;
    const calls = failures + this.#counts.second;
    if (calls >= this.options.minimumCalls && failures >= this.options.threshold * calls) this.#open();
  }

  /** A trial call that ended without an outcome (aborted by its caller): the next call becomes the trial. */
  releaseTrial(): void {
    this.#trialInFlight = false;
  }

  #open(): void {
    this.#openUntil = performance.now() + this.options.cooldown;
    this.#set('open');
  }

  #set(state: BreakerState): void {
    const previous = this.#state;
    if (previous === state) return;
    const failures = this.#counts.first;
    const calls = failures + this.#counts.second;
    this.#state = state;
    if (state !== 'half-open') this.#counts.reset();
    this.onChange(state, previous, failures, calls);
  }
}
