import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { InvalidOptionError, processGlobal, ShuttingDownError } from '@keel/lifecycle';


/** Called once when the drain starts, so a long-lived response can finish early. */
export type OnDrain = (reason: ShuttingDownError) => void;

/** What a drained server tells the long-lived registry about one of its sockets. */
export interface SocketOwner {
  /** True once the server's drain has started. */
  readonly closing: boolean;
  /** Reports an `onDrain` callback that threw. */
  reportFailure(error: unknown): void;
}

interface LongLivedState {
  readonly callbacks: WeakMap<ServerResponse, Set<OnDrain>>;
  readonly owners: WeakMap<Socket, SocketOwner>;
}

const state = processGlobal<LongLivedState>('keel.drain.longLived', () => ({ callbacks: new WeakMap(), owners: new WeakMap() }));

/** Records which drained server a socket belongs to. */
export function setSocketOwner(socket: Socket, owner: SocketOwner): void {
  state.owners.set(socket, owner);
}

function invoke(callback: OnDrain, owner: SocketOwner): void {
  try {
    callback(new ShuttingDownError('The service is shutting down: finish this response'));
  } catch (error) {
    owner.reportFailure(error);
  }
}

/**
 * Registers a long-lived response (a stream, server-sent events, a long poll) so
 * that `onDrain` is called when its server's drain starts: end the response
 * then, and the drain need not wait for the deadline and cut it. If the drain
 * has already started, `onDrain` is called on the next tick. Returns the function
 * that unregisters it; ending the response unregisters it too.
 */
export function registerLongLived(res: ServerResponse, onDrain: OnDrain): () => void {
  if (typeof (res as Partial<ServerResponse> | null)?.once !== 'function') throw new InvalidOptionError('@keel/drain', 'registerLongLived res', 'a ServerResponse', res);
  if (typeof onDrain !== 'function') throw new InvalidOptionError('@keel/drain', 'registerLongLived onDrain', 'a function', onDrain);
  let callbacks = state.callbacks.get(res);
  if (callbacks === undefined) {
    callbacks = new Set();
    state.callbacks.set(res, callbacks);
  }
  const set = callbacks;
  set.add(onDrain);
  const unregister = (): void => {
    set.delete(onDrain);
    res.off('close', unregister);
  };
  res.once('close', unregister);
  const socket = res.socket;
  const owner = socket === null ? undefined : state.owners.get(socket);
  if (owner?.closing === true) {
    process.nextTick(() => {
      if (!set.has(onDrain)) return;
      unregister();
      invoke(onDrain, owner);
    });
  }
  return unregister;
}

/** Calls and unregisters every `onDrain` registered for `res`; returns how many ran. */
export function notifyLongLived(res: ServerResponse, owner: SocketOwner): number {
  const callbacks = state.callbacks.get(res);
  if (callbacks === undefined || callbacks.size === 0) return 0;
  const pending = [...callbacks];
  callbacks.clear();
  for (const callback of pending) invoke(callback, owner);
  return pending.length;
}
