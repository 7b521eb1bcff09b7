import type { ExpressFactory } from '@keel/test-support';

/**
 * A router built in its own module, the way apps split routes across files: it
 * knows nothing about async-guard and is mounted by the app later.
 */
export function createItemsRouter(express: ExpressFactory): ReturnType<ExpressFactory['Router']> {
  const router = express.Router();
  router.param('itemId', async (req: any, _res, next, id: string) => {
    await Promise.resolve();
    if (id === 'bad') throw 'bad item id';
    req.itemId = id;
    next();
  });
  router.get('/:itemId', async (req: any, res) => {
    await Promise.resolve();
    if (req.itemId === 'broken') throw undefined;
    res.json({ item: req.itemId });
  });
  router
    .route('/:itemId/notes')
    .get(async () => {
      throw new Error('notes unavailable');
    })
    .post(async () => {
      throw null;
    });
  const nested = express.Router();
  nested.get('/deep', async () => {
    throw 'deep failure';
  });
  router.use('/nested', nested);
  return router;
}
