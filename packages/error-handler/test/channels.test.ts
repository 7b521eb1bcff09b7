import diagnosticsChannel from 'node:diagnostics_channel';
import { describeEachExpress, listen, closeServer } from '@keel/test-support';
import { answerChannel, errorHandler, notFound, type AnswerMessage } from '@keel/error-handler';

const quiet = { error() {}, warn() {}, info() {} };

describeEachExpress('errorHandler() diagnostics channel', ({ express }) => {
  it('publishes each error answered with its status, code and outcome', async () => {
    const answers: AnswerMessage[] = [];
    const onAnswer = (message: unknown): void => void answers.push(message as AnswerMessage);
    diagnosticsChannel.subscribe('keel:error-handler:answer', onAnswer);
    const app = express();
    app.get('/taken', () => {
      throw Object.assign(new Error('taken'), { status: 409, code: 'NAME_TAKEN', expose: true });
    });
    app.get('/boom', () => {
      throw new Error('internal');
    });
    app.use(notFound({ logger: quiet }));
    app.use(errorHandler({ logger: quiet }));
    const { server, url } = await listen(app);
    try {
      expect((await fetch(`${url}/taken`)).status).toBe(409);
      expect((await fetch(`${url}/boom`)).status).toBe(500);
      expect((await fetch(`${url}/nowhere`)).status).toBe(404);
      expect(answers.map(({ status, code, outcome }) => ({ status, code, outcome }))).toEqual([
        { status: 409, code: 'NAME_TAKEN', outcome: 'sent' },
        { status: 500, code: 'INTERNAL_SERVER_ERROR', outcome: 'sent' },
        { status: 404, code: 'ERR_KEEL_ROUTE_NOT_FOUND', outcome: 'sent' },
      ]);
      expect(answers.map((answer) => answer.req.url)).toEqual(['/taken', '/boom', '/nowhere']);
    } finally {
      diagnosticsChannel.unsubscribe('keel:error-handler:answer', onAnswer);
      await closeServer(server);
    }
    expect(answerChannel.hasSubscribers).toBe(false);
  });
});
