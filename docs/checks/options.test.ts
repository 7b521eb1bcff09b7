import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { evaluateDefault, optionDocuments, parseOptionTables } from '../../scripts/docs-options';

const root = path.resolve(__dirname, '..', '..');

/**
 * Options whose default is not a value a table can show (a logger object, a
 * function): documented as words, and listed here with the reason.
 */
const DOCUMENTED_AS_WORDS: Record<string, string> = {
  'lifecycle.logger': 'a JSON-lines logger object created for each lifecycle, not a literal',
  'error-handler.env': 'process.env.NODE_ENV, read each time the factory is called',
  'error-handler.logger': 'a winston logger created by the factory, not a literal',
  'error-handler.lifecycle': 'the default lifecycle, looked up at each error, never created',
  'async-guard.lifecycle': 'the default lifecycle, looked up only when a fatal error happens',
  'async-guard.logger': "the lifecycle's logger, known only once the lifecycle is",
};

function loadPackage(name: string): Record<string, unknown> {
  // The sources, through jest's @keel/<name> mapping: the check needs no build.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(`@keel/${name}`) as Record<string, unknown>;
}

const documents = optionDocuments(root);
const packagesWithSource = fs
  .readdirSync(path.join(root, 'packages'))
  .filter((name) => fs.existsSync(path.join(root, 'packages', name, 'src', 'index.ts')));

describe('options tables in the docs and READMEs', () => {
  it('finds a package page with an options table for every package', () => {
    for (const name of packagesWithSource) {
      const page = path.join(root, 'docs', 'packages', `${name}.md`);
      expect({ name, page: fs.existsSync(page) }).toEqual({ name, page: true });
      expect({ name, rows: parseOptionTables(fs.readFileSync(page, 'utf8')).length > 0 }).toEqual({ name, rows: true });
    }
  });

  describe.each(documents.filter(({ packageName }) => packagesWithSource.includes(packageName)).map((doc) => [path.relative(root, doc.file), doc] as const))('%s', (_label, { packageName, file }) => {
    const rows = parseOptionTables(fs.readFileSync(file, 'utf8'));

    it('documents each default exactly as the package exports it', () => {
      const exports = loadPackage(packageName);
      const mismatches: string[] = [];
      for (const row of rows) {
        const defaults = exports[row.defaultsExport] as Record<string, unknown> | undefined;
        const where = `${path.relative(root, file)}:${row.line} ${row.option}`;
        if (defaults === undefined) {
          mismatches.push(`${where}: @keel/${packageName} exports no ${row.defaultsExport}`);
          continue;
        }
        const wordReason = DOCUMENTED_AS_WORDS[`${packageName}.${row.option}`];
        if (row.defaultSource === undefined) {
          if (wordReason === undefined) mismatches.push(`${where}: default "${row.defaultCell}" is not a backticked JS value and is not in the allow-list`);
          else if (Object.prototype.hasOwnProperty.call(defaults, row.option)) mismatches.push(`${where}: documented as words, but ${row.defaultsExport} has a value for it`);
          continue;
        }
        if (!Object.prototype.hasOwnProperty.call(defaults, row.option)) {
          mismatches.push(`${where}: ${row.defaultsExport} has no "${row.option}"`);
          continue;
        }
        let documented: unknown;
        try {
          documented = evaluateDefault(row.defaultSource);
        } catch (error) {
          mismatches.push(`${where}: \`${row.defaultSource}\` is not a JS value (${(error as Error).message})`);
          continue;
        }
        // Compare through JSON so that values built in the vm context compare like local ones.
        const actual = JSON.parse(JSON.stringify(defaults[row.option]) ?? 'null') as unknown;
        const expected = JSON.parse(JSON.stringify(documented) ?? 'null') as unknown;
        if (!isDeepStrictEqual(actual, expected) || typeof defaults[row.option] !== typeof documented) {
          mismatches.push(`${where}: documented \`${row.defaultSource}\`, the code has ${JSON.stringify(defaults[row.option])}`);
        }
      }
      expect(mismatches).toEqual([]);
    });

    it('documents every option the package has a default for', () => {
      const exports = loadPackage(packageName);
      const missing: string[] = [];
      for (const exportName of new Set(['DEFAULTS', ...rows.map((row) => row.defaultsExport)])) {
        const defaults = exports[exportName] as Record<string, unknown> | undefined;
        if (defaults === undefined) continue;
        for (const option of Object.keys(defaults)) {
          if (!rows.some((row) => row.defaultsExport === exportName && row.option === option)) missing.push(`${exportName}.${option}`);
        }
      }
      expect(missing).toEqual([]);
    });
  });
});

describe('the options table parser', () => {
  it('reads option, default source and the export a table documents', () => {
    const rows = parseOptionTables(
      [
        '| option | type | default | description |',
        '|---|---|---|---|',
        "| `header` | `string` | `'x-request-id'` | the header |",
        '| `logger` | `Logger` | a JSON logger | where logs go |',
        '',
        '<!-- defaults: PROBE_DEFAULTS -->',
        '| option | type | default | description |',
        '|---|---|---|---|',
        "| `paths` | `string[]` | `['/livez', '/readyz']` | a \\| b |",
      ].join('\n'),
    );
    expect(rows.map(({ option, defaultSource, defaultsExport }) => ({ option, defaultSource, defaultsExport }))).toEqual([
      { option: 'header', defaultSource: "'x-request-id'", defaultsExport: 'DEFAULTS' },
      { option: 'logger', defaultSource: undefined, defaultsExport: 'DEFAULTS' },
      { option: 'paths', defaultSource: "['/livez', '/readyz']", defaultsExport: 'PROBE_DEFAULTS' },
    ]);
    expect(evaluateDefault("['/livez', '/readyz']")).toEqual(['/livez', '/readyz']);
  });

  it('reports a changed default as a mismatch', () => {
    const [row] = parseOptionTables(['| option | type | default | description |', '|---|---|---|---|', '| `timeout` | `number` | `5000` | x |'].join('\n'));
    expect(isDeepStrictEqual(evaluateDefault(row!.defaultSource!), 1000)).toBe(false);
  });
});
