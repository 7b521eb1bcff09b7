import type { ExpressFactory } from '@keel/test-support';

/** A router in its own module whose one route rejects with `value`, as a route module of an app would. */
export function createFailingRouter(express: ExpressFactory, value: unknown): ReturnType<ExpressFactory['Router']> {
  const router = express.Router();
  router.get('/', async () => {
    await new Promise((resolve) => setImmediate(resolve));
    throw value;
  });
  return router;
}
