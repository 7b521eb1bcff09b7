import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';

/** One row of an options table: `| option | type | default | description |`. */
export interface OptionRow {
  readonly option: string;
  readonly type: string;
  /** The default cell as written. */
  readonly defaultCell: string;
  /** The default as JS source when the cell is one backticked expression; undefined for a word. */
  readonly defaultSource: string | undefined;
  /** The export the table documents: `DEFAULTS` unless a `<!-- defaults: NAME -->` comment precedes the table. */
  readonly defaultsExport: string;
  readonly line: number;
}

const HEADER = /^\|\s*option\s*\|\s*type\s*\|\s*default\s*\|\s*description\s*\|\s*$/i;
const MARKER = /^<!--\s*defaults:\s*([A-Za-z_$][\w$]*)\s*-->\s*$/;

/** Splits a markdown table row into cells, keeping `\|` and pipes inside backticks. */
function cells(row: string): string[] {
  const out: string[] = [];
  let cell = '';
  let inCode = false;
  const body = row.trim().replace(/^\|/, '').replace(/\|$/, '');
  for (let i = 0; i < body.length; i++) {
    const char = body[i]!;
    if (char === '\\' && body[i + 1] === '|') {
      cell += '|';
      i++;
    } else if (char === '`') {
      inCode = !inCode;
      cell += char;
    } else if (char === '|' && !inCode) {
      out.push(cell.trim());
      cell = '';
    } else cell += char;
  }
  out.push(cell.trim());
  return out;
}

/** Every row of every options table in a markdown document. */
export function parseOptionTables(markdown: string): OptionRow[] {
  const lines = markdown.split('\n');
  const rows: OptionRow[] = [];
  let defaultsExport = 'DEFAULTS';
  for (let i = 0; i < lines.length; i++) {
    const marker = MARKER.exec(lines[i]!.trim());
    if (marker) {
      defaultsExport = marker[1]!;
      continue;
    }
    if (!HEADER.test(lines[i]!.trim())) continue;
    i += 2; // the header and its |---| row
    for (; i < lines.length && lines[i]!.trim().startsWith('|'); i++) {
      const [option = '', type = '', defaultCell = ''] = cells(lines[i]!);
      const code = /^`([^`]+)`$/.exec(defaultCell);
      rows.push({ option: option.replace(/`/g, '').trim(), type, defaultCell, defaultSource: code?.[1], defaultsExport, line: i + 1 });
    }
    defaultsExport = 'DEFAULTS';
  }
  return rows;
}

/** Evaluates a documented default (a JS literal expression) in an empty context. */
export function evaluateDefault(source: string): unknown {
  return vm.runInNewContext(`(${source})`, Object.create(null), { timeout: 100 });
}

/** The options markdown of the site and of the package READMEs, by package name. */
export function optionDocuments(root: string): Array<{ packageName: string; file: string }> {
  const docs: Array<{ packageName: string; file: string }> = [];
  for (const name of fs.readdirSync(path.join(root, 'packages'))) {
    if (!fs.existsSync(path.join(root, 'packages', name, 'package.json'))) continue;
    for (const file of [path.join(root, 'docs', 'packages', `${name}.md`), path.join(root, 'packages', name, 'README.md')]) {
      if (fs.existsSync(file)) docs.push({ packageName: name, file });
    }
  }
  return docs;
}
