/**
 * How one request ended, seen from the client. `resetUnaccepted`: reset on a
 * connection the server never accepted (the kernel reset it when the listener
 * closed), told apart from `lost` only when the fixture prints the client ports
 * it accepted and the client knows its own (the node:http clients).
 */
export type Outcome = 'completed' | 'errorStatus' | 'refused' | 'lost' | 'resetUnaccepted';

/** A request that did not complete: its error code and times relative to the signal. */
export interface FailedRequest {
  readonly id: string;
  readonly ms: number;
  readonly code: string;
  readonly startedAfterSignalMs: number;
  readonly endedAfterSignalMs: number;
}

/**
 * The load's client: `'agent'`, a node:http(s) Agent with keepAlive; `'undici'`,
 * an undici Pool; `'no-keep-alive'`, an Agent that opens a new connection for every request.
 */
export type ClientKind = 'agent' | 'undici' | 'no-keep-alive';

/** Options of {@link runShutdownLoad}; every one but `fixture` has a default in {@link DEFAULTS}. */
export interface ShutdownLoadOptions {
  /** The server program: prints `{"event":"listening","port":N}` and shuts down on the signal. */
  fixture: string;
  /** The Node binary that runs the fixture. */
  nodePath?: string;
  /** Extra environment for the fixture. */
  env?: NodeJS.ProcessEnv;
  /** The client (see {@link ClientKind}). */
  client?: ClientKind;
  /** Speak HTTPS (certificate not verified). */
  tls?: boolean;
  /** Pool size, and the number of concurrent request loops. */
  connections?: number;
  /** Pause of each loop between two requests, [min, max] ms. */
  thinkMs?: [number, number];
  /** Share of requests that are slow. */
  slowShare?: number;
  /** How long a slow request takes on the server, [min, max] ms. */
  slowMs?: [number, number];
  /** Load before the signal, ms (plus up to `signalJitterMs`). */
  warmupMs?: number;
  signalJitterMs?: number;
  /** A request with no answer after this long is lost (hung). */
  requestTimeoutMs?: number;
  startTimeoutMs?: number;
  signal?: NodeJS.Signals;
}

/** One shutdown under load. */
export interface ShutdownLoadResult {
  readonly client: ClientKind;
  readonly tls: boolean;
  readonly counts: { readonly total: number } & Readonly<Record<Outcome, number>>;
  /** Each lost request. */
  readonly lost: readonly FailedRequest[];
  /** Each request reset on a connection the server never accepted. */
  readonly resetUnaccepted: readonly FailedRequest[];
  readonly errorStatuses: ReadonlyArray<{ id: string; code: string }>;
  readonly inFlightAtSignal: number;
  readonly slowInFlightAtSignal: number;
  readonly slowInFlightCompleted: number;
  readonly completedAfterSignal: number;
  /** The longest server-side delay among completed requests. */
  readonly longestRequestMs: number;
  /** Epoch ms of the signal. */
  readonly signalAt: number;
  readonly exitCode: number | null;
  readonly exitSignal: NodeJS.Signals | null;
  /** From sending the signal to seeing the process exit, in the parent (includes the OS's delays). */
  readonly signalToExitMs: number;
  /** From the fixture's own "signal" line to its "exit" line, when it prints them. */
  readonly shutdownMs: number | undefined;
  readonly durationMs: number;
  /** The fixture's stdout lines, JSON ones parsed and given `atMs` (ms after the signal). */
  readonly lines: readonly any[];
  readonly stderr: string;
}

/** Totals over several shutdowns. */
export interface ShutdownLoadSummary {
  readonly shutdowns: number;
  readonly requests: number;
  readonly completed: number;
  readonly errorStatus: number;
  readonly refused: number;
  readonly lost: number;
  readonly resetUnaccepted: number;
  readonly slowInFlightAtSignal: number;
  readonly slowInFlightCompleted: number;
  readonly maxSignalToExitMs: number;
  readonly maxShutdownMs: number;
  readonly exitCodes: Readonly<Record<string, number>>;
}

export const DEFAULTS: Readonly<Required<Omit<ShutdownLoadOptions, 'fixture'>>>;
export function runShutdownLoad(options: ShutdownLoadOptions): Promise<ShutdownLoadResult>;
export function runShutdowns(count: number, parallel: number, options: ShutdownLoadOptions): Promise<ShutdownLoadResult[]>;
export function summarize(results: readonly ShutdownLoadResult[]): ShutdownLoadSummary;
export function classifyError(error: unknown): { outcome: 'refused' | 'lost'; code: string };
/** A client of `kind` (see {@link ClientKind}); `send` never rejects. */
export function createClient(
  kind: ClientKind,
  options: { port: number; tls?: boolean; connections?: number; requestTimeoutMs?: number },
): {
  /** `localPort`: the connection's client port, on a failure of the node:http clients. */
  send(path: string, id: string): Promise<{ outcome: Outcome; code?: string; detail?: string; localPort?: number }>;
  close(): Promise<void>;
};
