/** A response format of the error handler. */
export type ErrorFormat = 'problem+json' | 'json' | 'html' | 'text';

/** Every format, in the default order of preference. */
export const ERROR_FORMATS: readonly ErrorFormat[] = Object.freeze(['problem+json', 'json', 'html', 'text'] as const);

/** The media type each format answers with. */
export const MEDIA_TYPES: Readonly<Record<ErrorFormat, string>> = Object.freeze({
  'problem+json': 'application/problem+json',
  json: 'application/json',
  html: 'text/html',
  text: 'text/plain',
});

interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  readonly q: number;
  readonly order: number;
}

/** Longest Accept header read; the rest is ignored. */
const MAX_ACCEPT_LENGTH = 4096;

function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  header
    .slice(0, MAX_ACCEPT_LENGTH)
    .split(',')
    .forEach((part, order) => {
      const [range = '', ...params] = part.split(';');
      const match = /^\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\/([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*$/.exec(range);
      if (match === null) return;
      let q = 1;
      for (const param of params) {
        const qMatch = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(param);
        if (qMatch !== null) {
          const parsed = Number(qMatch[1]);
          q = Number.isFinite(parsed) ? Math.min(Math.max(parsed, 0), 1) : 1;
        }
      }
      ranges.push({ type: match[1]!.toLowerCase(), subtype: match[2]!.toLowerCase(), q, order });
    });
  return ranges;
}

/** How well `range` matches `mediaType`: 2 exact, 1 `type/*`, 0 `* /*`, -1 not at all. */
function specificity(range: MediaRange, mediaType: string): number {
  const [type, subtype] = mediaType.split('/') as [string, string];
  if (range.type === type && range.subtype === subtype) return 2;
  if (range.type === type && range.subtype === '*') return 1;
  if (range.type === '*' && range.subtype === '*') return 0;
  return -1;
}

/**
 * Picks the format for an `Accept` header among `formats` (in server order of
 * preference). The most specific matching range decides a format's quality;
 * the highest quality wins, then the more specific match, then the client's
 * order, then the server's. When the client accepts none of them, the first
 * format is used: an error is answered, never turned into a 406.
 */
export function negotiate(accept: string | string[] | undefined, formats: readonly ErrorFormat[]): ErrorFormat {
  const fallback = formats[0] ?? 'problem+json';
  const header = Array.isArray(accept) ? accept.join(',') : accept;
  if (header === undefined || header.trim() === '') return fallback;
  const ranges = parseAccept(header);
  if (ranges.length === 0) return fallback;

  let best: { format: ErrorFormat; q: number; s: number; order: number; index: number } | undefined;
  formats.forEach((format, index) => {
    let match: MediaRange | undefined;
    let s = -1;
    for (const range of ranges) {
      const rangeSpecificity = specificity(range, MEDIA_TYPES[format]);
      if (rangeSpecificity > s || (rangeSpecificity === s && match !== undefined && range.q > match.q)) {
        match = range;
        s = rangeSpecificity;
      }
    }
    if (match === undefined || s < 0 || match.q <= 0) return;
    const candidate = { format, q: match.q, s, order: match.order, index };
    if (
      best === undefined ||
      candidate.q > best.q ||
      (candidate.q === best.q && (candidate.s > best.s || (candidate.s === best.s && candidate.order < best.order)))
    ) {
      best = candidate;
    }
  });
  return best?.format ?? fallback;
}
