/**
 * One program per package, run inside the scratch app: it mounts the packed
 * package on a real Express app, sends a real request over a socket, checks
 * the answer and prints `ok` last.
 */

/** Starts `app` on 127.0.0.1, runs `body(url)`, closes the server. */
const harness = `
const express = require('express');
async function withServer(app, body) {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    await body('http://127.0.0.1:' + server.address().port);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
function expectEqual(actual, expected, what) {
  if (actual !== expected) { console.error(what + ': expected ' + JSON.stringify(expected) + ', got ' + JSON.stringify(actual)); process.exit(1); }
}
`;

/** The request check of each package, keyed by its folder name. */
export const requestChecks: Record<string, string> = {
  lifecycle: `${harness}
const { runInRequestContext, getContext } = require('@keel/lifecycle');
const app = express();
app.use((req, res, next) => runInRequestContext(req, res, next));
app.get('/', async (req, res) => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  res.json({ same: getContext().req === req });
});
withServer(app, async (url) => {
  const body = await (await fetch(url + '/')).json();
  expectEqual(body.same, true, 'context after await');
  console.log('ok');
});
`,
};
