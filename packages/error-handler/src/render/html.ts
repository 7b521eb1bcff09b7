import type { ErrorView } from './view';

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for an HTML element or a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

/** `text/html`: a minimal page, every value escaped; no script, style or external resource. */
export function renderHtml(view: ErrorView): string {
  const heading = escapeHtml(`${view.status} ${view.title}`);
  const lines = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${heading}</title>`,
    '</head>',
    '<body>',
    `<h1>${heading}</h1>`,
    `<p>${escapeHtml(view.detail)}</p>`,
    `<p>Code: <code>${escapeHtml(view.code)}</code></p>`,
  ];
  if (view.traceId !== undefined) lines.push(`<p>Trace ID: <code>${escapeHtml(view.traceId)}</code></p>`);
  if (view.debug !== undefined) {
    const causes = view.debug.causes.map((cause) => `\ncaused by: ${cause.stack ?? `${cause.name}: ${cause.message}`}`).join('');
    lines.push(`<pre>${escapeHtml(`${view.debug.stack ?? `${view.debug.name}: ${view.debug.message}`}${causes}`)}</pre>`);
  }
  lines.push('</body>', '</html>');
  return `${lines.join('\n')}\n`;
}
