import path from 'node:path';
import { EXPRESS_MAJORS, useRecipeApp } from '../../test-support';

const APP = path.join(__dirname, 'app.js');

describe.each(EXPRESS_MAJORS)('recipe: share the context with cls-hooked (app.js and audit.js on Express %i)', (major) => {
  const recipe = useRecipeApp(APP, { express: major });

  const order = (total: number, headers: Record<string, string>) =>
    fetch(`${recipe.baseUrl}/orders`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ total }) });

  it('lets code that reads the namespace see keel\'s trace ID and the app\'s own values, after a parsed body and awaits', async () => {
    const response = await order(30, { 'x-request-id': 'cls-1', 'x-user-id': 'ada' });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ action: 'create order of 30', traceId: 'cls-1', userId: 'ada', same: true });
  });

  it('keeps 30 concurrent requests apart', async () => {
    const ids = Array.from({ length: 30 }, (_, index) => index);
    const bodies = await Promise.all(ids.map((index) => order(index, { 'x-request-id': `cls-c-${index}`, 'x-user-id': `user-${index}` }).then((response) => response.json())));
    expect(bodies).toEqual(ids.map((index) => ({ action: `create order of ${index}`, traceId: `cls-c-${index}`, userId: `user-${index}`, same: true })));
  });

  it('gives a request without headers its own fresh ID and default user', async () => {
    const body = (await (await order(1, {})).json()) as { traceId: string; userId: string };
    expect(body.traceId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.userId).toBe('anonymous');
  });
});
