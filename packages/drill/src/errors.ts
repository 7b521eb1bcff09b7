/** Thrown by {@link runDrill} and the `keel-drill` command line on an unknown, mistyped or out-of-range option. */
export class DrillOptionError extends TypeError {
  /** Stable code for matching without `instanceof`. */
  readonly code = 'ERR_KEEL_DRILL_INVALID_OPTION';
  constructor(
    /** The option's name (dotted for nested options, `--flag` on the command line). */
    readonly option: string,
    /** What the option accepts, in words. */
    readonly expected: string,
    /** The value that came. */
    readonly received: unknown,
  ) {
    super(`@keel/drill: option "${option}" must be ${expected}; received ${describe(received)}`);
    this.name = 'DrillOptionError';
  }
}

/** Returns true for a {@link DrillOptionError}, by its `code`. */
export function isDrillOptionError(value: unknown): value is DrillOptionError {
  return typeof value === 'object' && value !== null && (value as { code?: unknown }).code === 'ERR_KEEL_DRILL_INVALID_OPTION';
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  return 'an object';
}
