import fs from 'node:fs';
import path from 'node:path';
import createError from 'http-errors';
import request from 'supertest';
import * as errorHandlerModule from '@keel/error-handler';
import { DEFAULTS, errorHandler, notFound } from '@keel/error-handler';
import { describeEachExpress, type ExpressFactory } from '@keel/test-support';
import { captureLogger, withTraceId } from './helpers';

const README = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

/** The fenced block that follows `<!-- <kind>: <name> -->` in the README. */
function block(kind: string, name: string): string {
  const marker = `<!-- ${kind}: ${name} -->`;
  const start = README.indexOf(marker);
  if (start === -1) throw new Error(`README has no ${marker}`);
  const match = /```[a-z]*\n([\s\S]*?)```/.exec(README.slice(start + marker.length));
  if (match === null) throw new Error(`README has no code block after ${marker}`);
  return match[1]!;
}

/** The README's options table: option name to its default cell. */
function optionsTable(): Map<string, string> {
  const section = README.slice(README.indexOf('| option | type | default | description |'));
  const lines = section.split('\n').slice(2);
  const rows = lines.slice(0, lines.findIndex((line) => !line.startsWith('|')));
  return new Map(
    rows.map((row) => {
      const cells = row.split(/(?<!\\)\|/).map((cell) => cell.trim());
      return [cells[1]!.replace(/`/g, ''), cells[3]!];
    }),
  );
}

describeEachExpress('README', ({ express }) => {
  function scenario(factory: ExpressFactory) {
    const app = factory();
    app.use(withTraceId(TRACE_ID));
    app.get('/orders/:id', (req) => {
      throw createError(404, `Order ${req.params.id} does not exist`);
    });
    app.get('/orders', () => {
      throw new Error('connect ECONNREFUSED 10.0.0.7:5432');
    });
    app.use(notFound({ logger: captureLogger().logger }));
    app.use(errorHandler({ logger: captureLogger().logger }));
    return app;
  }

  it.each([
    ['problem+json', '/orders/42', '*/*'],
    ['json', '/orders/42', 'application/json'],
    ['500', '/orders', '*/*'],
  ])('shows the %s body the code sends', async (name, route, accept) => {
    const res = await request(scenario(express)).get(route).set('Accept', accept);
    expect(JSON.parse(res.text)).toEqual(JSON.parse(block('response', name)));
  });

  it.each([
    ['html', 'text/html'],
    ['text', 'text/plain'],
  ])('shows the %s body the code sends, byte for byte', async (name, accept) => {
    const res = await request(scenario(express)).get('/orders/42').set('Accept', accept);
    expect(res.text).toBe(block('response', name));
  });

  it('has a usage example that runs as written', async () => {
    const code = block('example', 'usage');
    expect(code).toContain('app.listen(3000);');
    const capture = captureLogger();
    // The example's own logger would write to the test output: lend it one that records.
    const quiet = {
      ...errorHandlerModule,
      errorHandler: (options?: object) => errorHandler({ logger: capture.logger, ...options }),
      notFound: (options?: object) => notFound({ logger: capture.logger, ...options }),
    };
    const modules: Record<string, unknown> = { express, 'http-errors': createError, '@keel/error-handler': quiet };
    const exported: { exports?: unknown } = {};
    new Function('require', 'module', code.replace('app.listen(3000);', 'module.exports = app;'))((name: string) => modules[name], exported);
    const app = exported.exports as Parameters<typeof request>[0];
    const missing = await request(app).get('/orders/42');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text).detail).toBe('Order 42 does not exist');
    const broken = await request(app).get('/orders');
    expect(broken.status).toBe(500);
    expect(broken.text).not.toContain('ECONNREFUSED');
    const nowhere = await request(app).get('/nowhere');
    expect(JSON.parse(nowhere.text)).toMatchObject({ detail: 'Cannot GET /nowhere', code: 'ERR_KEEL_ROUTE_NOT_FOUND' });
    expect(capture.entries.map((entry) => entry.level)).toEqual(['warn', 'error', 'warn']);
  });

  it('documents every option, with the default DEFAULTS holds', () => {
    const table = optionsTable();
    expect([...table.keys()].sort()).toEqual([...Object.keys(DEFAULTS), 'env', 'logger', 'lifecycle'].sort());
    for (const [option, value] of Object.entries(DEFAULTS)) {
      const cell = table.get(option)!;
      expect(cell).toMatch(/^`.*`$/);
      expect(new Function(`return (${cell.slice(1, -1)});`)()).toEqual(value);
    }
  });
});
