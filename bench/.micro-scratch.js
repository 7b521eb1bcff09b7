const { Dispatcher } = require('undici');
const { outbound } = require('/work/main/packages/outbound');
const raw = [Buffer.from('content-length'), Buffer.from('2')];
const chunk = Buffer.from('ok');
class Fake extends Dispatcher {
  dispatch(opts, h) { h.onConnect(() => {}); h.onHeaders(200, raw, () => {}, 'OK'); h.onData(chunk); h.onComplete([]); return true; }
  close() { return Promise.resolve(); }
}
const handler = { onConnect() {}, onHeaders() { return true; }, onData() { return true; }, onComplete() {}, onError(e) { throw e; } };
const opts = { origin: 'http://127.0.0.1:1', path: '/x', method: 'GET', headers: { a: 'b' } };
function run(d, n) { const t = process.hrtime.bigint(); for (let i = 0; i < n; i++) d.dispatch(opts, handler); return Number(process.hrtime.bigint() - t) / n; }
const fake = new Fake(); const ob = outbound({ dispatcher: fake });
const obNo = outbound({ dispatcher: fake, breaker: false, retryBudget: false });
for (let r = 0; r < 3; r++) console.log('fake', run(fake, 200000).toFixed(0), 'ns; outbound', run(ob, 200000).toFixed(0), 'ns; no breaker/budget', run(obNo, 200000).toFixed(0), 'ns');
