import { AsyncLocalStorage } from 'node:async_hooks';
import { processGlobal } from '@keel/lifecycle';

/** What `fetch()` shares with the calls its dispatch makes. */
export interface FetchScope {
  /** The request body as the caller gave it, when it can be sent again (fetch hands undici a one-shot stream). */
  readonly body: string | Uint8Array | undefined;
  /** The error the call failed with: fetch wraps it, sometimes into an Error of another realm. */
  error: Error | undefined;
}

/** The scope of the `fetch()` call running, if any. Process-wide, like the request context. */
export const fetchScopes = processGlobal('keel.outbound.fetchScopes.v1', () => new AsyncLocalStorage<FetchScope>());
