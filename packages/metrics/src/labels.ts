const SAFE = /^[\x21-\x7e][\x20-\x7e]{0,127}$/;

/**
 * Keeps a label fed from outside the code bounded: at most `max` distinct values,
 * each printable ASCII of at most 128 characters; anything else becomes `other`.
 * A scanner, a hostile header or a buggy dependency cannot explode a series count.
 */
export class BoundedLabel {
  readonly #seen = new Set<string>();

  constructor(
    readonly max: number,
    readonly other = 'other',
  ) {}

  /** The label value to record for `value`. */
  of(value: unknown): string {
    if (typeof value !== 'string') return this.other;
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.max || !SAFE.test(value)) return this.other;
    this.#seen.add(value);
    return value;
  }
}
