import path from 'node:path';
import { EXPRESS_MAJORS, useRecipeApp } from '../../test-support';

const APP = path.join(__dirname, 'app.js');
/** A caller's W3C traceparent whose trace ID is `trace`. */
const traceparent = (trace: string): string => `00-${trace}-00f067aa0ba902b7-01`;
const trace = (index: number): string => (index + 1).toString(16).padStart(32, 'c');

describe.each(EXPRESS_MAJORS)('recipe: share the context with cls-hooked (app.js and audit.js on Express %i)', (major) => {
  const recipe = useRecipeApp(APP, { express: major });

  const order = (total: number, headers: Record<string, string>) =>
    fetch(`${recipe.baseUrl}/orders`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ total }) });

  it('lets code that reads the namespace see keel\'s trace ID and the app\'s own values, after a parsed body and awaits', async () => {
    const response = await order(30, { traceparent: traceparent(trace(100)), 'x-user-id': 'ada' });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ action: 'create order of 30', traceId: trace(100), userId: 'ada', same: true });
  });

  it('keeps 30 concurrent requests apart', async () => {
    const ids = Array.from({ length: 30 }, (_, index) => index);
    const bodies = await Promise.all(ids.map((index) => order(index, { traceparent: traceparent(trace(index)), 'x-user-id': `user-${index}` }).then((response) => response.json())));
    expect(bodies).toEqual(ids.map((index) => ({ action: `create order of ${index}`, traceId: trace(index), userId: `user-${index}`, same: true })));
  });

  it('gives a request without headers its own fresh ID and default user', async () => {
    const body = (await (await order(1, {})).json()) as { traceId: string; userId: string };
    expect(body.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(body.userId).toBe('anonymous');
  });
});
