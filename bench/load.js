'use strict';
// The load generator: autocannon in its own process (pinned to its own core by
// run.js), so it never competes with the server's event loop. Long-lived: it
// takes {type:'run', id, url, connections, duration, amount} messages over IPC
// and answers {type:'result', id, result}. From a shell:
//   node bench/load.js http://127.0.0.1:3000/trivial [connections] [seconds]

const autocannon = require('autocannon');

/** Runs autocannon once and resolves with the numbers the report uses. */
function runLoad({ url, connections = 50, duration = 5, amount }) {
  return new Promise((resolve, reject) => {
    const options = { url, connections, pipelining: 1, timeout: 10 };
    if (amount) options.amount = amount;
    else options.duration = duration;
    autocannon(options, (error, result) => {
      if (error) return reject(error);
      const seconds = (new Date(result.finish) - new Date(result.start)) / 1000;
      resolve({
        requests: result.requests.total,
        seconds,
        rps: result.requests.total / seconds,
        latencyP50: result.latency.p50,
        latencyP99: result.latency.p99,
        latencyMax: result.latency.max,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        resets: result.resets,
      });
    });
  });
}

if (require.main === module) {
  if (process.send) {
    process.on('message', (message) => {
      if (!message || message.type !== 'run') return;
      runLoad(message).then(
        (result) => process.send({ type: 'result', id: message.id, result }),
        (error) => process.send({ type: 'result', id: message.id, error: String(error && error.stack) }),
      );
    });
    process.on('disconnect', () => process.exit(0));
    process.send({ type: 'ready', pid: process.pid });
  } else {
    const [url, connections = '50', seconds = '5'] = process.argv.slice(2);
    if (!url) {
      console.error('usage: node bench/load.js <url> [connections] [seconds]');
      process.exit(2);
    }
    runLoad({ url, connections: Number(connections), duration: Number(seconds) }).then((result) => console.log(JSON.stringify(result, null, 2)));
  }
}

module.exports = { runLoad };
