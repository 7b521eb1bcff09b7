import { RetryBudget } from './budget';
import { CircuitBreaker, type BreakerState } from './breaker';
import { breakerChannel } from './channels';
import type { ResolvedOutboundOptions } from './options';

/** What one dispatcher keeps per origin: its retry budget and its circuit. */
export interface OriginState {
  readonly origin: string;
  readonly budget: RetryBudget | undefined;
  readonly breaker: CircuitBreaker | undefined;
}

// A client that calls many hosts (webhooks, crawlers) must not grow without bound.
const MAX_ORIGINS = 1_000;

/** The per-origin state of one `outbound()` dispatcher. */
export class OriginStates {
  readonly #states = new Map<string, OriginState>();
  // undici passes the origin as given (a string or a URL): normalising it with URL costs more than the rest of a call.
  readonly #normalised = new Map<string, string>();

  constructor(readonly options: ResolvedOutboundOptions) {}

  /** The state of the origin a dispatch names. */
  of(given: string | URL | undefined): OriginState {
    if (typeof given !== 'string') return this.get(originOf(given));
    let origin = this.#normalised.get(given);
    if (origin === undefined) {
      if (this.#normalised.size >= MAX_ORIGINS) this.#normalised.clear();
      origin = originOf(given);
      this.#normalised.set(given, origin);
    }
    return this.get(origin);
  }

  get(origin: string): OriginState {
    let state = this.#states.get(origin);
    if (state !== undefined) return state;
    if (this.#states.size >= MAX_ORIGINS) this.#evict();
    const { retryBudget, breaker } = this.options;
    state = {
      origin,
      budget: retryBudget === false ? undefined : new RetryBudget(retryBudget),
      breaker: breaker === false ? undefined : new CircuitBreaker(breaker, (next, previous, failures, calls) => publishBreaker(origin, next, previous, failures, calls)),
    };
    this.#states.set(origin, state);
    return state;
  }

  /** The circuit state of `origin`, `'closed'` when it was never called or has no breaker. */
  breakerState(origin: string): BreakerState {
    return this.#states.get(origin)?.breaker?.state ?? 'closed';
  }

  #evict(): void {
    // The oldest origin whose circuit is closed: an open one must keep protecting its dependency.
    for (const [origin, state] of this.#states) {
      if (state.breaker === undefined || state.breaker.state === 'closed') {
        this.#states.delete(origin);
        return;
      }
    }
    const oldest = this.#states.keys().next();
    if (oldest.done !== true) this.#states.delete(oldest.value);
  }
}

function publishBreaker(origin: string, state: BreakerState, previous: BreakerState, failures: number, calls: number): void {
  if (breakerChannel.hasSubscribers) breakerChannel.publish({ origin, state, previous, failures, calls });
}

/** `origin` as undici gives it (a string or a URL), normalised to `scheme://host[:port]`. */
export function originOf(origin: string | URL | undefined): string {
  if (origin === undefined) return 'unknown';
  if (typeof origin !== 'string') return origin.origin;
  try {
    return new URL(origin).origin;
  } catch {
    return origin;
  }
}
