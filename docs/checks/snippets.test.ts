import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const docsDir = path.join(root, 'docs');

/**
 * Fence languages a page may write by hand: shell commands (install, run) and
 * text diagrams. Code a user copies (js, ts, yaml, proxy configs) is included
 * from a tested file with `<<<`.
 */
const HAND_WRITTEN_LANGUAGES = new Set(['sh', 'text']);

function markdownFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') return [];
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(file);
    return entry.name.endsWith('.md') ? [file] : [];
  });
}

interface Include {
  readonly page: string;
  readonly line: number;
  readonly file: string;
  readonly region: string | undefined;
}

/** Every `<<< @/path#region{lang}` include of every page. */
function includes(): Include[] {
  return markdownFiles(docsDir).flatMap((page) =>
    fs
      .readFileSync(page, 'utf8')
      .split('\n')
      .flatMap((text, index) => {
        const match = /^<<<\s+(\S+?)(?:#([\w*-]+))?(?:\s*\{[^}]*\})?(?:\s*\[[^\]]*\])?\s*$/.exec(text.trim());
        if (!match) return [];
        const raw = match[1]!;
        const file = raw.startsWith('@/') ? path.join(docsDir, raw.slice(2)) : path.resolve(path.dirname(page), raw);
        return [{ page: path.relative(root, page), line: index + 1, file, region: match[2] }];
      }),
  );
}

/** Region markers as VitePress finds them: `// #region x`, `# region x`, `<!-- #region x -->`. */
function hasRegion(content: string, region: string): boolean {
  const lines = content.split('\n').map((line) => line.trim());
  const start = new RegExp(`^(//\\s?#?|#\\s?|<!--\\s?#?)region ${region}(\\s*-->)?$`);
  const end = new RegExp(`^(//\\s?#?|#\\s?|<!--\\s?#?)endregion ${region}(\\s*-->)?$`);
  const startAt = lines.findIndex((line) => start.test(line));
  return startAt !== -1 && lines.slice(startAt + 1).some((line) => end.test(line));
}

describe('code on the docs site', () => {
  it('includes only files and regions that exist (VitePress would include a whole file for a missing region)', () => {
    const broken = includes().flatMap(({ page, line, file, region }) => {
      if (!fs.existsSync(file)) return [`${page}:${line}: ${path.relative(root, file)} does not exist`];
      if (region !== undefined && !hasRegion(fs.readFileSync(file, 'utf8'), region)) return [`${page}:${line}: ${path.relative(root, file)} has no region "${region}"`];
      return [];
    });
    expect(broken).toEqual([]);
  });

  it('pastes no code by hand: every js, ts, yaml or config block is included from a file', () => {
    const pasted = markdownFiles(docsDir).flatMap((page) => {
      const found: string[] = [];
      let inFence = false;
      fs.readFileSync(page, 'utf8')
        .split('\n')
        .forEach((text, index) => {
          const fence = /^\s*(```+|~~~+)\s*([\w-]*)/.exec(text);
          if (!fence) return;
          if (!inFence && !HAND_WRITTEN_LANGUAGES.has(fence[2]!)) found.push(`${path.relative(root, page)}:${index + 1}: a hand-written \`${fence[2] || 'untyped'}\` block`);
          inFence = !inFence;
        });
      return found;
    });
    expect(pasted).toEqual([]);
  });

  it('includes code only from recipe folders, whose tests run it', () => {
    const recipesDir = path.join(docsDir, 'recipes');
    const outside = includes().filter(({ file }) => !file.startsWith(recipesDir + path.sep));
    expect(outside.map(({ page, line, file }) => `${page}:${line}: ${path.relative(root, file)}`)).toEqual([]);
  });

  it('runs every file a recipe page includes in that recipe\'s test', () => {
    const recipesDir = path.join(docsDir, 'recipes');
    const untested = includes()
      .filter(({ file }) => file.startsWith(recipesDir + path.sep))
      .flatMap(({ page, file }) => {
        const folder = path.join(recipesDir, path.relative(recipesDir, file).split(path.sep)[0]!);
        const tests = fs.readdirSync(folder).filter((name) => name.endsWith('.test.ts'));
        const name = path.basename(file);
        const mentioned = tests.some((test) => fs.readFileSync(path.join(folder, test), 'utf8').includes(name));
        return mentioned ? [] : [`${page} includes ${path.relative(root, file)}, which no test in ${path.relative(root, folder)} names`];
      });
    expect(untested).toEqual([]);
  });

  it('gives every recipe folder a page, an included file and a test', () => {
    const recipesDir = path.join(docsDir, 'recipes');
    const problems = fs
      .readdirSync(recipesDir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .flatMap(({ name }) => {
        const folder = path.join(recipesDir, name);
        const files = fs.readdirSync(folder);
        const out: string[] = [];
        if (!files.includes('index.md')) out.push(`${name}: no index.md`);
        if (!files.some((file) => file.endsWith('.test.ts'))) out.push(`${name}: no test`);
        if (!includes().some(({ file }) => file.startsWith(folder + path.sep))) out.push(`${name}: its page includes none of its files`);
        return out;
      });
    expect(problems).toEqual([]);
  });
});
