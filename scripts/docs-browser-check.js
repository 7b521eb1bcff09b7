// Builds the docs site, serves the build on 127.0.0.1, opens every page in
// headless Chromium and reports console errors, broken internal links and
// empty code blocks. `node scripts/docs-browser-check.js` runs it alone;
// scripts/docs-browser.test.ts runs it in jest.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const docsDir = path.join(root, 'docs');
const distDir = path.join(docsDir, '.vitepress', 'dist');

/** Chromium flags: headless, no sandbox (containers), and nothing that calls home. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** Runs `vitepress build docs` with the repo's vitepress; rejects with its output on failure. */
function buildSite() {
  const bin = path.join(root, 'node_modules', 'vitepress', 'bin', 'vitepress.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'build', docsDir], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`vitepress build failed (exit ${code}):\n${output}`))));
  });
}

/** The file a URL path maps to in the build, the way a static host maps it; undefined if none. */
function fileFor(urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath.split('?')[0].split('#')[0]);
  } catch {
    return undefined;
  }
  const candidate = path.join(distDir, path.normalize(decoded));
  if (!candidate.startsWith(distDir)) return undefined;
  const options = decoded.endsWith('/') ? [path.join(candidate, 'index.html')] : [candidate, `${candidate}.html`, path.join(candidate, 'index.html')];
  return options.find((file) => fs.existsSync(file) && fs.statSync(file).isFile());
}

/** Serves the build on 127.0.0.1:0; resolves with the server and its base URL. */
function serveSite() {
  const server = http.createServer((req, res) => {
    const file = fileFor(req.url || '/');
    if (file === undefined) {
      const notFound = path.join(distDir, '404.html');
      res.writeHead(404, { 'content-type': MIME['.html'] });
      res.end(fs.existsSync(notFound) ? fs.readFileSync(notFound) : 'not found');
      return;
    }
    res.writeHead(200, { 'content-type': MIME[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ server, base: `http://127.0.0.1:${server.address().port}` }));
  });
}

/** True for a recipe page (`/recipes/<slug>/`), whose code blocks must all be filled in. */
function isRecipePage(urlPath) {
  return /^\/recipes\/[^/]+\/(index\.html)?$/.test(urlPath);
}

/**
 * Opens every page reachable from `/` through internal links and returns the
 * problems found: `{ page, problem }` entries. An empty list is a pass.
 */
async function crawl(base, options = {}) {
  const { chromium } = require('playwright-core');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keel-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: options.executablePath || process.env.KEEL_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // Playwright passes the fresh `--user-data-dir` itself; it refuses one in `args`.
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
  const problems = [];
  const visited = new Set();
  const queue = ['/'];
  const pages = [];
  const linkTargets = new Map();
  try {
    const page = context.pages()[0] || (await context.newPage());
    let current = '/';
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push({ page: current, problem: `console error: ${message.text()}` });
    });
    page.on('pageerror', (error) => problems.push({ page: current, problem: `uncaught error: ${error.message}` }));
    page.on('requestfailed', (request) => {
      const error = request.failure()?.errorText;
      // ERR_ABORTED: a prefetch of a linked page cut short by the next navigation, not a missing file (those answer 404 below).
      if (request.url().startsWith(base) && error !== 'net::ERR_ABORTED') problems.push({ page: current, problem: `request failed: ${request.url()} (${error})` });
    });
    page.on('response', (response) => {
      if (response.url().startsWith(base) && response.status() >= 400) problems.push({ page: current, problem: `HTTP ${response.status()} for ${response.url()}` });
    });
    while (queue.length > 0) {
      const urlPath = queue.shift();
      if (visited.has(urlPath)) continue;
      visited.add(urlPath);
      current = urlPath;
      // 'load' comes after the module scripts ran, so after VitePress has hydrated the page.
      const response = await page.goto(base + urlPath, { waitUntil: 'load', timeout: 30_000 });
      if (!response || response.status() !== 200) {
        problems.push({ page: urlPath, problem: `HTTP ${response ? response.status() : 'no response'} (linked from ${[...(linkTargets.get(urlPath) || [])].join(', ')})` });
        continue;
      }
      pages.push(urlPath);
      // Runs in the page, where `document` is the browser's.
      const found = await page.evaluate(() => {
        /* global document */
        const links = [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href'));
        const anchors = [...document.querySelectorAll('[id]')].map((element) => element.id);
        const blocks = [...document.querySelectorAll('.vp-doc div[class*="language-"]')].map((block) => ({
          lang: [...block.classList].find((name) => name.startsWith('language-')),
          text: (block.querySelector('pre code')?.textContent || '').trim(),
        }));
        const title = document.querySelector('.vp-doc h1')?.textContent || '';
        return { links, anchors, blocks, title };
      });
      if (urlPath !== '/' && found.title.trim() === '') problems.push({ page: urlPath, problem: 'no h1 title' });
      for (const block of found.blocks) {
        if (block.text === '' && isRecipePage(urlPath)) problems.push({ page: urlPath, problem: `empty code block (${block.lang})` });
        if (/Code snippet path not found|Invalid code snippet option/.test(block.text)) problems.push({ page: urlPath, problem: `broken snippet include: ${block.text}` });
      }
      for (const href of found.links) {
        const target = new URL(href, base + urlPath);
        if (target.origin !== base) continue;
        const targetPath = target.pathname;
        if (!linkTargets.has(targetPath)) linkTargets.set(targetPath, new Set());
        linkTargets.get(targetPath).add(urlPath);
        if (fileFor(targetPath) === undefined) continue;
        if (target.hash && targetPath === new URL(base + urlPath).pathname && !found.anchors.includes(decodeURIComponent(target.hash.slice(1)))) {
          problems.push({ page: urlPath, problem: `broken anchor: ${href}` });
        }
        if (/\.html$|\/$/.test(targetPath) && !visited.has(targetPath)) queue.push(targetPath);
      }
    }
    // One problem per missing target, naming every page that links to it (the sidebar repeats links).
    for (const [targetPath, from] of linkTargets) {
      if (fileFor(targetPath) === undefined) problems.push({ page: [...from].join(', '), problem: `broken internal link: ${targetPath}` });
    }
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  return { pages, problems };
}

/** Builds, serves and crawls the site; resolves with the pages opened and the problems found. */
async function checkSite(options = {}) {
  if (!options.skipBuild) await buildSite();
  const { server, base } = await serveSite();
  try {
    return await crawl(base, options);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

module.exports = { checkSite, buildSite, serveSite, crawl, CHROMIUM_ARGS, distDir };

if (require.main === module) {
  checkSite({ skipBuild: process.argv.includes('--no-build') }).then(
    ({ pages, problems }) => {
      for (const { page, problem } of problems) console.error(`${page}: ${problem}`);
      console.log(`${pages.length} pages opened, ${problems.length} problems`);
      process.exit(problems.length === 0 ? 0 : 1);
    },
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
