import { STATUS_CODES } from 'node:http';

/** The reason phrase of `status`, or a generic one for codes Node does not name (e.g. 499). */
export function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? (status < 500 ? 'Client Error' : 'Server Error');
}

/** A stable code derived from the status: `NOT_FOUND`, `INTERNAL_SERVER_ERROR`, `HTTP_499`. */
export function codeForStatus(status: number): string {
  const phrase = STATUS_CODES[status];
  if (phrase === undefined) return `HTTP_${status}`;
  return phrase
    .replace(/'/g, '')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_|_$/g, '')
    .toUpperCase();
}

/** True for an integer from 400 to 599, the only statuses an error may set. */
export function isErrorStatus(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 400 && value <= 599;
}
