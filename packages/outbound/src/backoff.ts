/**
 * The wait before retry `retry` (1 for the first retry): full jitter, a random
 * time between 0 and `min(maxDelay, baseDelay * 2 ** (retry - 1))`, so callers
 * that failed together do not come back together.
 */
export function backoffDelay(retry: number, baseDelay: number, maxDelay: number, random: () => number): number {
  const ceiling = Math.min(maxDelay, baseDelay * 2 ** (retry - 1));
  const draw = random();
  const share = Number.isFinite(draw) ? Math.min(Math.max(draw, 0), 1) : 0.5;
  return Math.floor(share * ceiling);
}

const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/**
 * The wait a `Retry-After` value asks for, in ms: delay-seconds or an HTTP-date.
 * `undefined` when absent or malformed (then backoff applies); a date in the past is 0.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  if (Array.isArray(value)) value = value[0];
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  // HTTP-dates start with a day name; a bare number with a sign or a dot is malformed.
  if (!/^[A-Za-z]{3},? /.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}
