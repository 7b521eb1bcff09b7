import fs from 'node:fs';
import path from 'node:path';
import { describeWithPrograms, requireProgram } from '../test-support';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { checkSite } = require('../../scripts/docs-browser-check.js') as {
  checkSite(options?: { executablePath?: string }): Promise<{ pages: string[]; problems: Array<{ page: string; problem: string }> }>;
};

const docsDir = path.resolve(__dirname, '..');

/** The URL path of every markdown page of the site, as VitePress renders it (cleanUrls off). */
function sitePages(): string[] {
  const pages: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules' || entry.name === 'test-support' || entry.name === 'checks' || entry.name === 'fixtures') continue;
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.md') && entry.name !== 'README.md') {
        const relative = path.relative(docsDir, file).split(path.sep).join('/');
        pages.push(`/${relative.replace(/(^|\/)index\.md$/, '$1').replace(/\.md$/, '.html')}`);
      }
    }
  };
  walk(docsDir);
  return pages.sort();
}

describeWithPrograms(['chromium'], 'the docs site in a browser', () => {
  it('builds, and every page opens in Chromium with no console error, broken link or empty recipe code block', async () => {
    const chromium = requireProgram('Chromium', [process.env.KEEL_CHROMIUM ?? '/usr/bin/chromium'], 'chromium');
    const { pages, problems } = await checkSite({ executablePath: chromium });
    expect(problems.map(({ page, problem }) => `${page}: ${problem}`)).toEqual([]);
    // Every page is reachable by a reader, through links from the home page.
    expect([...pages].sort()).toEqual(expect.arrayContaining(sitePages()));
  }, 240_000);
});
