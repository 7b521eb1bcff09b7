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
  'error-handler': `${harness}
const { notFound, errorHandler } = require('@keel/error-handler');
const logged = [];
const logger = { error: (message, fields) => logged.push(fields), warn: () => {}, info: () => {} };
const app = express();
app.get('/boom', () => { throw new Error('secret internals'); });
app.use(notFound());
app.use(errorHandler({ logger, env: 'production' }));
withServer(app, async (url) => {
  const boom = await fetch(url + '/boom');
  expectEqual(boom.status, 500, 'status');
  expectEqual(boom.headers.get('content-type').split(';')[0], 'application/problem+json', 'content type');
  const text = await boom.text();
  expectEqual(text.includes('secret'), false, 'message hidden');
  expectEqual(logged.length, 1, 'one log line');
  expectEqual((await fetch(url + '/nowhere')).status, 404, 'not found');
  console.log('ok');
});
`,
  lifecycle: `${harness}
const { createLifecycle, probes, requestContext, getContext } = require('@keel/lifecycle');
const lifecycle = createLifecycle({ signals: [] });
const app = express();
app.use(probes({ lifecycle }));
app.use(requestContext());
app.get('/', async (req, res) => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  res.json({ same: getContext().req === req });
});
withServer(app, async (url) => {
  expectEqual((await fetch(url + '/readyz')).status, 503, 'not ready before markReady');
  lifecycle.markReady();
  expectEqual((await fetch(url + '/readyz')).status, 200, 'ready');
  const body = await (await fetch(url + '/')).json();
  expectEqual(body.same, true, 'context after await');
  console.log('ok');
});
`,
};
