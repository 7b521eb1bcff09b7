import type { ErrorView } from './view';

/** RFC 9457 `application/problem+json`: type, title, status, detail, instance, code, traceId. */
export function renderProblemJson(view: ErrorView): string {
  return JSON.stringify({
    type: view.type,
    title: view.title,
    status: view.status,
    detail: view.detail,
    instance: view.instance,
    code: view.code,
    ...(view.traceId !== undefined ? { traceId: view.traceId } : {}),
    ...(view.debug !== undefined ? { debug: view.debug } : {}),
  });
}
