// A keel service on every core with node:cluster. The primary owns the
// signals: it tells every worker to drain, waits for each one to exit, and
// exits last, with code 1 if any worker did not shut down cleanly.
const cluster = require('node:cluster');
const os = require('node:os');
const { createLifecycle } = require('@keel/lifecycle');

if (cluster.isPrimary) {
  // #region primary
  // The primary's budget covers the workers' (20 s, see worker.js): its drain
  // phase, where the workers are waited for, ends 7 s before its own 30 s.
  const lifecycle = createLifecycle({ exit: true, shutdownTimeout: '30s' });

  const count = Number(process.env.WORKERS ?? os.availableParallelism());
  for (let i = 0; i < count; i++) cluster.fork();

  cluster.on('exit', (worker, code, signal) => {
    lifecycle.logger.info('worker exited', { pid: worker.process.pid, code, signal });
    // A worker that dies outside a shutdown is replaced.
    if (!lifecycle.isShuttingDown) cluster.fork();
  });

  lifecycle.onShutdown(
    'workers',
    ({ signal }) =>
      new Promise((resolve, reject) => {
        const pending = new Set(Object.values(cluster.workers));
        const failed = [];
        const onExit = (worker, code) => {
          if (!pending.delete(worker)) return;
          if (code !== 0) failed.push(worker.process.pid);
          if (pending.size > 0) return;
          cluster.off('exit', onExit);
          if (failed.length > 0) reject(new Error(`workers ${failed.join(', ')} did not exit cleanly`));
          else resolve();
        };
        cluster.on('exit', onExit);
        if (pending.size === 0) resolve();
        // A message, not a signal: it works the same on every platform, and the
        // worker treats it like a signal of its own (see worker.js).
        for (const worker of pending) if (worker.isConnected()) worker.send('shutdown');
        // Past the hook's deadline, what is left is killed; the exit code is then 1.
        signal.addEventListener('abort', () => {
          for (const worker of pending) worker.process.kill('SIGKILL');
        });
      }),
    { phase: 'drain', timeout: '25s' },
  );
  // #endregion primary
} else {
  require('./worker');
}
