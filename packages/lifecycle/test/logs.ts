import type { Logger } from '@keel/lifecycle';

/** A logger that keeps every line in memory, for asserting what was logged. */
export function memoryLogger(): Logger & { lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> } {
  const lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const write = (level: string) => (message: string, fields: Record<string, unknown> = {}) => {
    lines.push({ level, message, fields });
  };
  return { lines, error: write('error'), warn: write('warn'), info: write('info') };
}
