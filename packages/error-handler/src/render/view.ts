import type { CauseInfo } from '../normalize';

/** Details shown only with the `debug` option, never in production. */
export interface DebugView {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly causes: readonly CauseInfo[];
}

/** What every format shows: the members of an RFC 9457 problem, plus keel's `code` and `traceId`. */
export interface ErrorView {
  /** `about:blank`, or the configured base URL with the code appended. */
  readonly type: string;
  /** The status's reason phrase. */
  readonly title: string;
  readonly status: number;
  /** The exposed message, or the title. */
  readonly detail: string;
  /** The request's path, without the query string. */
  readonly instance: string;
  /** The stable code. */
  readonly code: string;
  /** The request's trace ID, when one is in the request context. */
  readonly traceId?: string;
  readonly debug?: DebugView;
}

/** Renders a view as a response body. */
export type Renderer = (view: ErrorView) => string;
