import request from 'supertest';
import { describeEachExpress } from '@keel/test-support';
import { asyncGuard, guardApp } from '@keel/async-guard';
import { contextOf, getContext } from '@keel/lifecycle';

describeEachExpress('asyncGuard()', ({ express }) => {
  it('opens the shared request context for the rest of the chain, timers included', async () => {
    const app = guardApp(express());
    app.use(asyncGuard());
    app.get('/', async (req, res) => {
      const context = getContext();
      await new Promise((resolve) => setTimeout(resolve, 1));
      res.json({ same: context !== undefined && getContext() === context && contextOf(req) === context });
    });
    expect((await request(app).get('/')).body).toEqual({ same: true });
  });

  it('joins a context another keel middleware opened', async () => {
    const app = express();
    const seen: unknown[] = [];
    app.use(asyncGuard());
    app.use((_req, _res, next) => {
      seen.push(getContext());
      next();
    });
    app.use(asyncGuard());
    app.get('/', (req, res) => {
      seen.push(getContext());
      res.json({ joined: seen[0] === seen[1] && seen[0] === contextOf(req) });
    });
    expect((await request(app).get('/')).body).toEqual({ joined: true });
  });

  it('returns a named middleware and rejects any option', () => {
    expect(asyncGuard().name).toBe('asyncGuardMiddleware');
    expect(() => asyncGuard({ verbose: true } as never)).toThrow(/@keel\/async-guard.*"verbose"/);
  });
});
