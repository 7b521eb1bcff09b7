import { clock } from './watchdog';

const BUCKETS = 10;

/**
 * Counts of two kinds of events over a sliding window, kept in ten buckets: a
 * fixed cost per origin however many calls it sees, and old events age out a
 * tenth of the window at a time.
 */
export class SlidingCounts {
  readonly #span: number;
  readonly #first = new Float64Array(BUCKETS);
  readonly #second = new Float64Array(BUCKETS);
  #bucket = 0;
  #bucketStart: number;

  constructor(window: number) {
    this.#span = window / BUCKETS;
    this.#bucketStart = clock.now;
  }

  /** Events of the first kind in the window. */
  get first(): number {
    this.#advance();
    return sum(this.#first);
  }

  /** Events of the second kind in the window. */
  get second(): number {
    this.#advance();
    return sum(this.#second);
  }

  addFirst(): void {
    this.#advance();
    this.#first[this.#bucket]!++;
  }

  addSecond(): void {
    this.#advance();
    this.#second[this.#bucket]!++;
  }

  reset(): void {
    this.#first.fill(0);
    this.#second.fill(0);
  }

  #advance(): void {
    // The watchdog's clock, refreshed at each call: a window counts in tenths of seconds.
    const elapsed = clock.now - this.#bucketStart;
    if (elapsed < this.#span) return;
    const steps = Math.floor(elapsed / this.#span);
    if (steps >= BUCKETS) {
      this.reset();
    } else {
      for (let i = 1; i <= steps; i++) {
        const index = (this.#bucket + i) % BUCKETS;
        this.#first[index] = 0;
        this.#second[index] = 0;
      }
    }
    this.#bucket = (this.#bucket + steps) % BUCKETS;
    this.#bucketStart += steps * this.#span;
  }
}

function sum(values: Float64Array): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
  return total;
}
