import path from 'node:path';
import { EXPRESS_MAJORS, useRecipeApp } from '../../test-support';

const APP = path.join(__dirname, 'app.js');
const PROBLEM = 'application/problem+json';

describe.each(EXPRESS_MAJORS)('recipe: problem+json errors with http-errors (app.js on Express %i)', (major) => {
  const recipe = useRecipeApp(APP, { express: major });

  const problem = async (urlPath: string, init: RequestInit = {}) => {
    const response = await fetch(`${recipe.baseUrl}${urlPath}`, { ...init, headers: { accept: PROBLEM, 'x-request-id': `t-${urlPath.length}`, ...(init.headers as Record<string, string>) } });
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    return { response, body: (await response.json()) as Record<string, unknown> };
  };

  it('answers a thrown 404 with its exposed message, the trace ID and a typed problem', async () => {
    const { response, body } = await problem('/orders/9');
    expect(response.status).toBe(404);
    expect(body).toEqual({
      type: 'https://example.com/problems/not-found',
      title: 'Not Found',
      status: 404,
      detail: 'Order 9 does not exist',
      instance: '/orders/9',
      code: 'NOT_FOUND',
      traceId: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    // The caller's request ID is echoed; the body names the trace.
    expect(response.headers.get('x-request-id')).toBe('t-9');
  });

  it('sends an exposed error\'s own code', async () => {
    const { response, body } = await problem('/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ total: 'thirty' }) });
    expect(response.status).toBe(422);
    expect(body).toMatchObject({ status: 422, code: 'ORDER_TOTAL_INVALID', detail: 'total must be a number', type: 'https://example.com/problems/order-total-invalid' });
  });

  it('answers malformed JSON with a 400, not a 500', async () => {
    const { response, body } = await problem('/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"total": 3' });
    expect(response.status).toBe(400);
    expect(body).toMatchObject({ status: 400, instance: '/orders' });
  });

  it('hides a 5xx message from the client and logs it with the trace ID', async () => {
    const { response, body } = await problem('/reports/daily', { headers: { 'x-request-id': 'daily-1' } });
    expect(response.status).toBe(500);
    expect(body).toMatchObject({ status: 500, title: 'Internal Server Error', detail: 'Internal Server Error', code: 'INTERNAL_SERVER_ERROR', traceId: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(response.headers.get('x-request-id')).toBe('daily-1');
    expect(JSON.stringify(body)).not.toContain('ECONNREFUSED');
    const line = (await recipe.app.waitFor((entry) => (entry as { traceId?: string }).traceId === body.traceId)) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'error', status: 500 });
    expect(JSON.stringify(line)).toContain('ECONNREFUSED 10.0.0.5:5432');
  });

  it('sends an error\'s headers, such as Retry-After, and hides the 5xx message', async () => {
    const { response, body } = await problem('/maintenance');
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('120');
    expect(body).toMatchObject({ status: 503, detail: 'Service Unavailable', code: 'SERVICE_UNAVAILABLE' });
    expect(JSON.stringify(body)).not.toContain('failover');
  });

  it('answers an unknown route with a 404 problem', async () => {
    const { response, body } = await problem('/nowhere');
    expect(response.status).toBe(404);
    expect(body).toMatchObject({ status: 404, instance: '/nowhere', detail: 'Cannot GET /nowhere', code: 'ERR_KEEL_ROUTE_NOT_FOUND' });
  });

  it('negotiates: JSON and HTML for clients that ask for them', async () => {
    const json = await fetch(`${recipe.baseUrl}/orders/9`, { headers: { accept: 'application/json' } });
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await json.json()).toMatchObject({ error: { status: 404, code: 'NOT_FOUND', message: 'Order 9 does not exist' } });
    const html = await fetch(`${recipe.baseUrl}/orders/9`, { headers: { accept: 'text/html' } });
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await html.text()).toContain('Order 9 does not exist');
  });
});
