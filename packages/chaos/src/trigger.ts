import { createHash, timingSafeEqual } from 'node:crypto';

/** What a trigger header carries: the fault (or rule name) it names, and a secret. */
export interface Trigger {
  readonly name: string | undefined;
  readonly secret: string | undefined;
}

/** Longer values are not a trigger anyone sends: ignored unread. */
const MAX_HEADER_LENGTH = 256;

/** Parses `latency; secret=...` (both parts optional). Anything malformed is no trigger at all. */
export function parseTrigger(value: string | string[] | undefined): Trigger | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_HEADER_LENGTH) return undefined;
  let name: string | undefined;
  let secret: string | undefined;
  for (const part of value.split(';')) {
    const item = part.trim();
    if (item === '') continue;
    const equals = item.indexOf('=');
    if (equals === -1) {
      if (name !== undefined) return undefined;
      name = item.toLowerCase();
    } else if (item.slice(0, equals).trim().toLowerCase() === 'secret' && secret === undefined) {
      secret = item.slice(equals + 1).trim();
    } else {
      return undefined;
    }
  }
  return { name, secret };
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * A constant-time comparison with the configured secret: both sides are hashed
 * first, so neither the content nor the length of the secret leaks through timing.
 */
export function secretMatcher(secret: string): (candidate: string | undefined) => boolean {
  const expected = digest(secret);
  return (candidate) => {
    const given = digest(candidate ?? '');
    return timingSafeEqual(given, expected) && candidate !== undefined;
  };
}
