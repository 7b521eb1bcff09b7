/** The characters an opaque ID may hold, besides ASCII letters and digits. */
export const ID_PUNCTUATION = '-_.:+=/';

// A lookup table, not a regex: one pass, no backtracking, no allocation.
const ALLOWED = new Uint8Array(128);
for (let code = 48; code <= 57; code++) ALLOWED[code] = 1;
for (let code = 65; code <= 90; code++) ALLOWED[code] = 1;
for (let code = 97; code <= 122; code++) ALLOWED[code] = 1;
for (const char of ID_PUNCTUATION) ALLOWED[char.charCodeAt(0)] = 1;

/** Why an opaque ID failed, or `undefined` when it passed. */
export type IdFault = 'empty' | 'too-long' | 'bad-charset';

/**
 * Checks an opaque ID: a non-empty string of at most `maxLength` ASCII letters,
 * digits and `-_.:+=/`. Anything else (spaces, commas of joined duplicate
 * headers, quotes, tabs, control and non-ASCII characters) fails.
 */
export function checkId(value: string, maxLength: number): IdFault | undefined {
  const length = value.length;
  if (length === 0) return 'empty';
  if (length > maxLength) return 'too-long';
  for (let i = 0; i < length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 128 || ALLOWED[code] === 0) return 'bad-charset';
  }
  return undefined;
}
