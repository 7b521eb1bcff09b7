import { Writable } from 'node:stream';
import request from 'supertest';
import {
  createJsonLogger,
  createLifecycle,
  DEFAULT_REDACTED_NAMES,
  isRedactedName,
  redactedNames,
  redactNames,
  redactText,
  redactUrl,
  redactValue,
} from '@keel/lifecycle';
import { describeEachExpress } from '@keel/test-support';

function memoryStream(): { stream: Writable; text(): string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString('utf8');
      callback();
    },
  });
  return { stream, text: () => text };
}

describe('the shared redaction', () => {
  it('matches the documented names and patterns, whatever their case or separators', () => {
    for (const name of ['Authorization', 'x-api-key', 'X-Amzn-Oidc-Accesstoken', 'cf-access-jwt-assertion', 'x-forwarded-client-cert', 'apiKey', 'API_KEY', 'clientSecret', 'refresh_token', 'sessionId', 'Cookie', 'password', 'privateKey']) {
      expect({ name, redacted: isRedactedName(name) }).toEqual({ name, redacted: true });
    }
    for (const name of ['host', 'accept', 'user-agent', 'x-request-id', 'traceparent', 'content-length', 'status', 'message']) {
      expect({ name, redacted: isRedactedName(name) }).toEqual({ name, redacted: false });
    }
    expect(Object.isFrozen(DEFAULT_REDACTED_NAMES)).toBe(true);
  });

  it('strips query strings, fragments and user info from URLs, in fields and in free text', () => {
    expect(redactUrl('/reset?token=abc#x')).toBe('/reset');
    expect(redactUrl('https://user:pass@api.example.com/v1?key=abc')).toBe('https://api.example.com/v1');
    expect(redactText('GET https://api.example.com/v1/charge?api_key=SECRET failed; Bearer SECRETSECRET12')).toBe('GET https://api.example.com/v1/charge failed; Bearer [REDACTED]');
    expect(redactText('late write on GET /reset?token=SECRET after 3 ms')).toBe('late write on GET /reset after 3 ms');
  });

  it('copies hostile values without throwing: cycles, Proxies, throwing getters, huge strings', () => {
    const loop: Record<string, unknown> = { password: 'SECRET' };
    loop.self = loop;
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const getter = Object.defineProperty({}, 'boom', { get: () => { throw new Error('getter'); }, enumerable: true });
    const copy = redactValue({ loop, proxy, getter, big: 'x'.repeat(100_000), error: Object.assign(new Error('failed at https://x.example/?token=SECRET'), { config: { auth: { password: 'SECRET' } } }) }) as Record<string, any>;
    expect(JSON.stringify(copy)).not.toContain('SECRET');
    expect(copy.loop).toEqual({ password: '[REDACTED]', self: '[Circular]' });
    expect(copy.proxy).toBe('[Proxy]');
    expect(copy.getter).toEqual({ boom: '[unreadable]' });
    expect(copy.big.length).toBeLessThan(40_000);
    expect(copy.error).toMatchObject({ name: 'Error', message: 'failed at https://x.example/', config: { auth: '[REDACTED]' } });
  });

  it('can be extended for the whole process', () => {
    expect(isRedactedName('x-tenant-pin')).toBe(false);
    expect(redactNames('x-tenant-*')).toContain('x-tenant-*');
    expect(isRedactedName('X-Tenant-Pin')).toBe(true);
    expect(redactedNames()).toEqual([...DEFAULT_REDACTED_NAMES, 'x-tenant-*']);
    expect(() => redactNames('')).toThrow(TypeError);
  });
});

describeEachExpress('log lines of a lifecycle', ({ express }) => {
  it("are redacted whatever logger the lifecycle was given: the built-in JSON one and the user's", async () => {
    const memory = memoryStream();
    const builtIn = createLifecycle({ signals: [], logger: createJsonLogger(memory.stream) });
    const lines: unknown[] = [];
    const custom = createLifecycle({ signals: [], logger: { error: (_m, f) => lines.push(f), warn: (_m, f) => lines.push(f), info: (_m, f) => lines.push(f) } });
    const app = express();
    app.get('/reset', (req, res) => {
      // What a package logs about a request: its URL and headers.
      for (const lifecycle of [builtIn, custom]) lifecycle.logger.warn(`slow request ${req.originalUrl}`, { url: req.originalUrl, headers: req.headers });
      res.send('ok');
    });
    await request(app).get('/reset?token=SECRET-reset').set('X-Api-Key', 'SECRET-key').set('Cookie', 'sid=SECRET-sid').expect(200);
    const written = memory.text() + JSON.stringify(lines);
    expect(written).not.toContain('SECRET');
    expect(JSON.parse(memory.text().trim())).toMatchObject({ level: 'warn', message: 'slow request /reset', url: '/reset', headers: { 'x-api-key': '[REDACTED]', cookie: '[REDACTED]' } });
    builtIn.dispose();
    custom.dispose();
  });
});
