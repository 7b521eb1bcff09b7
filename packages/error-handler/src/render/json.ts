import type { ErrorView } from './view';

/** `application/json`: `{ "error": { status, code, message, traceId } }`. */
export function renderJson(view: ErrorView): string {
  return JSON.stringify({
    error: {
      status: view.status,
      code: view.code,
      message: view.detail,
      ...(view.traceId !== undefined ? { traceId: view.traceId } : {}),
      ...(view.debug !== undefined ? { debug: view.debug } : {}),
    },
  });
}
