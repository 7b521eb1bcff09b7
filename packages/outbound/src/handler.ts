import type { Duplex } from 'node:stream';
import { util, type Dispatcher } from 'undici';

/**
 * The handler protocol undici's clients speak (raw headers, boolean back-pressure).
 * Calls use it end to end, so headers are never converted between shapes on the way.
 */
export interface RawHandler {
  onConnect?(abort: (reason?: Error) => void, context?: object): void;
  onHeaders?(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean | void;
  onData?(chunk: Buffer): boolean | void;
  onComplete?(rawTrailers: Buffer[] | null): void;
  onError?(error: Error): void;
  onUpgrade?(statusCode: number, rawHeaders: Buffer[] | null, socket: Duplex): void;
  onResponseStarted?(): void;
  onBodySent?(chunk: unknown): void;
  onRequestSent?(): void;
}

type NewHandler = Dispatcher.DispatchHandler;

function parse(raw: Buffer[] | null): Record<string, string | string[]> {
  return raw === null ? {} : (util.parseHeaders(raw) as Record<string, string | string[]>);
}

/** Presents a handler written for undici's controller API (`onRequestStart`, `onResponseStart`, ...) as a raw one. */
class ControllerHandlerAdapter implements RawHandler {
  readonly #handler: NewHandler;
  #abort: ((reason?: Error) => void) | undefined;
  #resume: (() => void) | undefined;
  #paused = false;
  #aborted = false;
  #reason: Error | null = null;
  readonly #controller: Dispatcher.DispatchController & { rawHeaders: Buffer[] | null; rawTrailers: Buffer[] | null };

  constructor(handler: NewHandler) {
    this.#handler = handler;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const adapter = this;
    this.#controller = {
      rawHeaders: null,
      rawTrailers: null,
      get aborted() {
        return adapter.#aborted;
      },
      get paused() {
        return adapter.#paused;
      },
      get reason() {
        return adapter.#reason;
      },
      abort(reason: Error) {
        if (adapter.#aborted) return;
        adapter.#aborted = true;
        adapter.#reason = reason;
        adapter.#abort?.(reason);
      },
      pause() {
        adapter.#paused = true;
      },
      resume() {
        if (!adapter.#paused) return;
        adapter.#paused = false;
        adapter.#resume?.();
      },
    };
  }

  onConnect(abort: (reason?: Error) => void, context?: object): void {
    this.#abort = abort;
    this.#handler.onRequestStart?.(this.#controller, context);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    this.#resume = resume;
    this.#controller.rawHeaders = rawHeaders;
    this.#handler.onResponseStart?.(this.#controller, statusCode, parse(rawHeaders), statusText);
    return !this.#paused;
  }

  onData(chunk: Buffer): boolean {
    this.#handler.onResponseData?.(this.#controller, chunk);
    return !this.#paused;
  }

  onComplete(rawTrailers: Buffer[] | null): void {
    this.#controller.rawTrailers = rawTrailers;
    this.#handler.onResponseEnd?.(this.#controller, parse(rawTrailers));
  }

  onError(error: Error): void {
    this.#handler.onResponseError?.(this.#controller, error);
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | null, socket: Duplex): void {
    this.#controller.rawHeaders = rawHeaders;
    this.#handler.onRequestUpgrade?.(this.#controller, statusCode, parse(rawHeaders), socket);
  }
}

/** The caller's handler as a raw one, whichever protocol it speaks. */
export function rawHandler(handler: object): RawHandler {
  return typeof (handler as NewHandler).onRequestStart === 'function' ? new ControllerHandlerAdapter(handler as NewHandler) : (handler as RawHandler);
}

/** The value of header `name` (lowercase) in raw headers, `undefined` when absent. */
export function rawHeader(rawHeaders: Buffer[] | null, name: string): string | undefined {
  if (rawHeaders === null) return undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const key = rawHeaders[i]!;
    if (key.length === name.length && key.toString('latin1').toLowerCase() === name) return rawHeaders[i + 1]!.toString('latin1');
  }
  return undefined;
}
