import { hash, randomFillSync, randomUUID } from 'node:crypto';

// One getrandom() call and one hex conversion serve 1 KB of IDs (42 requests, fewer when they make outbound calls): the per-request
// cost is a slice of a string (a native call per ID measured four times slower).
const POOL_BYTES = 1024;
const pool = Buffer.allocUnsafeSlow(POOL_BYTES);
let poolHex = '';
let offset = 0;

function randomHex(bytes: number): string {
  const chars = bytes * 2;
  if (offset + chars > poolHex.length) {
    randomFillSync(pool);
    poolHex = pool.toString('hex');
    offset = 0;
  }
  const hex = poolHex.slice(offset, offset + chars);
  offset += chars;
  return hex;
}

const ZERO_TRACE = '0'.repeat(32);

/** A fresh W3C span (parent) ID: 16 lowercase hex characters, never all zeros. */
export function newSpanId(): string {
  let id = randomHex(8);
  // By character, not `=== '0000000000000000'`: comparing a slice of the pool to another string flattens and compares it whole.
  while (isZeros(id, 0, 16)) id = randomHex(8);
  return id;
}

/** A fresh W3C trace ID: 32 lowercase hex characters, never all zeros. */
export function newW3cTraceId(): string {
  let id = randomHex(16);
  while (isZeros(id, 0, 32)) id = randomHex(16);
  return id;
}

/** A fresh random UUID (version 4). */
export function newUuid(): string {
  return randomUUID();
}

function isLowerHex(value: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const code = value.charCodeAt(i);
    if (!((code >= 48 && code <= 57) || (code >= 97 && code <= 102))) return false;
  }
  return true;
}

function isHexAnyCase(value: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const code = value.charCodeAt(i) | 0x20;
    if (!((code >= 48 && code <= 57) || (code >= 97 && code <= 102))) return false;
  }
  return true;
}

/** True when `value[start, end)` is all `'0'`. */
function isZeros(value: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (value.charCodeAt(i) !== 48) return false;
  return true;
}

function uuidToHex(id: string): string | undefined {
  if (id.length !== 36 || id[8] !== '-' || id[13] !== '-' || id[18] !== '-' || id[23] !== '-') return undefined;
  if (!isHexAnyCase(id, 0, 8) || !isHexAnyCase(id, 9, 13) || !isHexAnyCase(id, 14, 18) || !isHexAnyCase(id, 19, 23) || !isHexAnyCase(id, 24, 36)) return undefined;
  const hex = `${id.slice(0, 8)}${id.slice(9, 13)}${id.slice(14, 18)}${id.slice(19, 23)}${id.slice(24)}`.toLowerCase();
  return hex === ZERO_TRACE ? undefined : hex;
}

let lastId = '';
let lastW3c = '';

/**
 * The W3C trace ID a request ID travels as in `traceparent`: the ID itself when it
 * is one, a UUID without its dashes, and otherwise the first 128 bits of its
 * SHA-256, so every outbound call of a request, and the keel service receiving
 * it, derive the same trace ID from the same request ID.
 */
export function toW3cTraceId(id: string): string {
  if (id === lastId) return lastW3c;
  let w3c: string | undefined;
  if (id.length === 32 && isLowerHex(id, 0, 32) && !isZeros(id, 0, 32)) w3c = id;
  else w3c = uuidToHex(id);
  if (w3c === undefined) {
    w3c = hash('sha256', id, 'hex').slice(0, 32);
    if (w3c === ZERO_TRACE) w3c = `${w3c.slice(0, 31)}1`;
  }
  lastId = id;
  lastW3c = w3c;
  return w3c;
}

/** A parsed W3C `traceparent` header. */
export interface Traceparent {
  /** The two hex digits of the version (`'00'` today). */
  readonly version: string;
  /** The trace ID: 32 lowercase hex characters, not all zeros. */
  readonly traceId: string;
  /** The caller's span ID: 16 lowercase hex characters, not all zeros. */
  readonly parentId: string;
  /** The trace flags byte. */
  readonly flags: number;
  /** Bit 0 of the flags: the caller may have recorded this trace. */
  readonly sampled: boolean;
}

/**
 * Parses a `traceparent` header as the W3C Trace Context spec says: lowercase hex
 * only; version `ff` is invalid; an all-zero trace ID or parent ID is invalid;
 * version `00` must be exactly 55 characters; a higher version may be longer, but
 * then its 56th character must be `-` and only the first 55 are read. Returns
 * `undefined` for anything else (duplicated headers joined with `, ` included).
 */
export function parseTraceparent(value: unknown): Traceparent | undefined {
  if (typeof value !== 'string' || value.length < 55) return undefined;
  if (!isLowerHex(value, 0, 2)) return undefined;
  const version = value.slice(0, 2);
  if (version === 'ff') return undefined;
  if (version === '00' ? value.length !== 55 : value.length > 55 && value[55] !== '-') return undefined;
  if (value[2] !== '-' || value[35] !== '-' || value[52] !== '-') return undefined;
  if (!isLowerHex(value, 3, 35) || !isLowerHex(value, 36, 52) || !isLowerHex(value, 53, 55)) return undefined;
  if (isZeros(value, 3, 35) || isZeros(value, 36, 52)) return undefined;
  const flags = parseInt(value.slice(53, 55), 16);
  return { version, traceId: value.slice(3, 35), parentId: value.slice(36, 52), flags, sampled: (flags & 1) === 1 };
}

/** Formats a version-00 `traceparent`. */
export function formatTraceparent(traceId: string, spanId: string, sampled: boolean | undefined): string {
  return `00-${toW3cTraceId(traceId)}-${spanId}-${sampled === true ? '01' : '00'}`;
}
