import type { Dispatcher } from 'undici';
import { processGlobal } from '@keel/lifecycle';
import { fetchScopes, type FetchScope } from './fetch-scope';
import { outbound } from './outbound';

/** The arguments of Node's global `fetch`, with undici's `dispatcher` option. */
export type FetchInput = Parameters<typeof globalThis.fetch>[0];
/** `fetch`'s init, whose `dispatcher` (when set) replaces the default outbound one. */
export type FetchInit = Omit<NonNullable<Parameters<typeof globalThis.fetch>[1]>, 'dispatcher'> & { dispatcher?: Dispatcher };

interface DefaultSlot {
  dispatcher: Dispatcher | undefined;
}

// Process-wide, so two copies of this package share one set of circuits and budgets.
const slot = processGlobal<DefaultSlot>('keel.outbound.default.v1', () => ({ dispatcher: undefined }));

/** The dispatcher {@link fetch} uses: `outbound()` with the defaults, created on first use. */
export function defaultDispatcher(): Dispatcher {
  return (slot.dispatcher ??= outbound());
}

function isKeelError(value: unknown): value is Error {
  const code = typeof value === 'object' && value !== null ? (value as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('ERR_KEEL_');
}

/** A body fetch would turn into a one-shot stream, kept so a retry can send it again. */
function replayableBody(body: unknown): string | Uint8Array | undefined {
  if (typeof body === 'string') return body;
  if (body instanceof URLSearchParams) return body.toString();
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  return undefined;
}

/**
 * Node's `fetch` through the default {@link outbound} dispatcher (or the
 * `dispatcher` given in `init`). Where fetch would reject with `TypeError('fetch
 * failed')`, a keel error behind it (a timeout, the deadline, an open circuit,
 * shutdown) is thrown itself, so an error handler answers it with its status.
 * A string or bytes body can be sent again by a retry (fetch itself would
 * stream it once); a stream body never is.
 *
 * @example
 * app.get('/profile', async (req, res) => {
 *   const answer = await fetch('http://profiles.internal/me');
 *   res.json(await answer.json());
 * });
 */
export async function fetch(input: FetchInput, init?: FetchInit): Promise<Response> {
  const dispatcher = init?.dispatcher ?? defaultDispatcher();
  const scope: FetchScope = { body: replayableBody(init?.body), error: undefined };
  try {
    return await fetchScopes.run(scope, () => globalThis.fetch(input, { ...init, dispatcher } as unknown as RequestInit));
  } catch (error) {
    if (isKeelError(scope.error)) throw scope.error;
    throw error;
  }
}
