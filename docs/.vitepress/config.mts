import { defineConfig } from 'vitepress';

// Every page of the site, in reading order: the sidebar and the browser check both use this list.
const packages = ['lifecycle', 'trace-id', 'timeout', 'async-guard', 'error-handler', 'drain', 'outbound', 'metrics', 'chaos', 'drill'];

export const recipes: ReadonlyArray<{ slug: string; title: string }> = [
  { slug: 'add-keel-to-an-express-app', title: 'Add the full keel stack to an existing app' },
  { slug: 'drain-on-sigterm-in-kubernetes', title: 'Drain on SIGTERM in Kubernetes' },
  { slug: 'deregister-behind-haproxy', title: 'Deregister behind haproxy' },
  { slug: 'deregister-behind-nginx', title: 'Deregister behind nginx' },
  { slug: 'close-a-postgres-pool-on-shutdown', title: 'Close a PostgreSQL pool, cancel slow queries' },
  { slug: 'log-trace-ids-with-winston-and-fetch', title: 'Trace IDs in winston logs and on fetch' },
  { slug: 'join-logs-to-opentelemetry-traces', title: "Join keel's logs to OpenTelemetry traces" },
  { slug: 'cancel-fetch-at-the-deadline', title: 'Cancel a downstream fetch at the deadline' },
  { slug: 'retry-a-failing-dependency', title: 'Retry a failing dependency within the deadline' },
  { slug: 'return-problem-json-errors', title: 'problem+json errors with http-errors' },
  { slug: 'catch-async-errors-on-express-4', title: 'Async handlers on Express 4' },
  { slug: 'drain-every-cluster-worker', title: 'Drain every node:cluster worker' },
  { slug: 'share-context-with-cls-hooked', title: 'Share the context with cls-hooked' },
  { slug: 'alert-on-keel-metrics', title: 'Alert on keel metrics (P0, P1, P2)' },
  { slug: 'drill-your-own-app', title: 'Drill your own app' },
];

export default defineConfig({
  title: 'keel',
  description: 'Express middlewares that keep a Node service correct through faults and restarts.',
  base: '/',
  lang: 'en-US',
  cleanUrls: false,
  lastUpdated: false,
  // Recipe folders hold the tested app files the pages include; only their index.md is a page.
  srcExclude: ['**/README.md', 'test-support/**', 'checks/**', 'recipes/*/fixtures/**'],
  head: [['link', { rel: 'icon', href: '/favicon.svg', type: 'image/svg+xml' }]],
  markdown: {
    theme: { light: 'github-light', dark: 'github-dark' },
  },
  themeConfig: {
    logo: '/favicon.svg',
    nav: [
      { text: 'Getting started', link: '/getting-started' },
      { text: 'Concepts', link: '/concepts' },
      { text: 'Packages', link: '/packages/' },
      { text: 'Recipes', link: '/recipes/' },
    ],
    sidebar: [
      {
        text: 'Guide',
        items: [
          { text: 'Getting started', link: '/getting-started' },
          { text: 'Concepts', link: '/concepts' },
        ],
      },
      {
        text: 'Packages',
        link: '/packages/',
        items: packages.map((name) => ({ text: `@keel/${name}`, link: `/packages/${name}` })),
      },
      {
        text: 'Recipes',
        link: '/recipes/',
        items: recipes.map(({ slug, title }) => ({ text: title, link: `/recipes/${slug}/` })),
      },
    ],
    outline: { level: [2, 3] },
    search: { provider: 'local' },
  },
});
