import type { ErrorView } from './view';

/** `text/plain`: the status line, the detail, then `code:` and `traceId:` lines. */
export function renderText(view: ErrorView): string {
  const lines = [`${view.status} ${view.title}`, view.detail, `code: ${view.code}`];
  if (view.traceId !== undefined) lines.push(`traceId: ${view.traceId}`);
  if (view.debug !== undefined) {
    lines.push('', view.debug.stack ?? `${view.debug.name}: ${view.debug.message}`);
    for (const cause of view.debug.causes) lines.push(`caused by: ${cause.stack ?? `${cause.name}: ${cause.message}`}`);
  }
  return `${lines.join('\n')}\n`;
}
