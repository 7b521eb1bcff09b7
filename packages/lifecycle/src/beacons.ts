/** A handle that holds shutdown (after the drain phase, before cleanup) until released. */
export interface Beacon {
  /** The name the beacon was created with, shown in the shutdown report. */
  readonly name: string;
  /** Lets shutdown continue; later calls do nothing. */
  release(): void;
}

/** Live beacons and the waiters for their release, like a WaitGroup. */
export class BeaconSet {
  readonly #live = new Set<Beacon>();
  #onEmpty: Array<() => void> = [];

  /** Creates a beacon that holds until released. */
  create(name: string): Beacon {
    let released = false;
    const beacon: Beacon = {
      name,
      release: () => {
        if (released) return;
        released = true;
        this.#live.delete(beacon);
        if (this.#live.size === 0) {
          const waiters = this.#onEmpty;
          this.#onEmpty = [];
          for (const resolve of waiters) resolve();
        }
      },
    };
    this.#live.add(beacon);
    return beacon;
  }

  /** Names of the beacons not yet released. */
  names(): string[] {
    return [...this.#live].map((beacon) => beacon.name);
  }

  /** Resolves true once every beacon is released, or false when `deadline` (epoch ms) passes first. */
  waitUntilReleased(deadline: number): Promise<boolean> {
    if (this.#live.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#onEmpty = this.#onEmpty.filter((waiter) => waiter !== done);
        resolve(false);
      }, Math.max(0, deadline - Date.now()));
      this.#onEmpty.push(done);
    });
  }
}
