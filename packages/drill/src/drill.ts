import os from 'node:os';
import { findHaproxy, INSTALL_HINT } from './haproxy';
import { resolveOptions, type DrillOptions, type DrillTarget, type ResolvedDrillOptions } from './options';
import { drillFailures, type DrillResults } from './report';
import { ROLLING_DEFAULTS, runRollingRestart } from './rolling';
import { runShutdownLoad } from './shutdown-load';

function machine(): Record<string, string | number> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0] ? cpus[0].model.trim() : 'unknown CPU',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    node: process.version,
  };
}

function targetSpec(target: Readonly<DrillTarget>, options: ResolvedDrillOptions) {
  return {
    command: target.command,
    fixture: target.fixture,
    cwd: target.cwd,
    env: { NODE_ENV: 'production', ...target.env },
    readyPath: target.readyPath,
    probePath: target.paths![0]!.replaceAll('{id}', 'ready').replaceAll('{ms}', '0'),
    paths: target.paths!,
    slowPaths: target.slowPaths!,
    startTimeoutMs: options.startTimeoutMs,
    connections: options.connections,
    thinkMs: [...options.thinkMs] as [number, number],
    slowShare: options.slowShare,
    slowMs: [...options.slowMs] as [number, number],
    warmupMs: options.warmupMs,
    requestTimeoutMs: options.requestTimeoutMs,
    faults: options.faultShare > 0 ? options.faults : [],
    faultShare: options.faultShare,
    chaosHeader: options.chaosHeader,
    chaosSecret: options.chaosSecret,
  };
}

/**
 * Drills each target: for every client, `shutdowns` times, starts the app with
 * its command, waits until it is ready, drives keep-alive load (fast and slow
 * requests, chaos triggers when `faults` are set), sends SIGTERM and keeps the
 * load on until it has exited, classifying every request. With `rolling`, also
 * restarts two instances in turn behind haproxy under the same load. Resolves
 * with the results; `failures` lists what the judged targets lost.
 */
export async function runDrill(input: DrillOptions): Promise<DrillResults> {
  const options = resolveOptions(input);
  const startedAt = new Date();
  const results: DrillResults = {
    startedAt: startedAt.toISOString(),
    machine: machine(),
    settings: {
      connections: options.connections,
      thinkMs: options.thinkMs,
      slowShare: options.slowShare,
      slowMs: options.slowMs,
      warmupMs: options.warmupMs,
      requestTimeoutMs: options.requestTimeoutMs,
      check: ROLLING_DEFAULTS.check,
      faults: options.faultShare > 0 ? options.faults : [],
      faultShare: options.faultShare,
    },
    judged: options.targets.filter((target) => target.judged !== false).map((target) => target.name),
    subject: options.subject,
    titles: Object.fromEntries(options.targets.map((target) => [target.name, target.title ?? target.name])),
    loadBefore: os.loadavg()[0] ?? 0,
    single: [],
    rolling: [],
    errors: [],
    haproxy: null,
    haproxySkipped: undefined,
  };
  const shutdownsOf = (target: Readonly<DrillTarget>) => target.shutdowns ?? options.shutdowns;
  const rollingTargets = options.rolling && options.restarts > 0 ? options.targets.filter((target) => target.rolling !== false) : [];
  const total = options.clients.length * options.targets.reduce((sum, target) => sum + shutdownsOf(target), 0) + options.rollingClients.length * options.restarts * rollingTargets.length;
  let done = 0;
  const progress = (part: 'single instance' | 'rolling restart', target: string, client: (typeof options.clients)[number], summary?: string) => {
    if (summary !== undefined) done++;
    options.onProgress?.({ done, total, part, target, client, ...(summary === undefined ? {} : { summary }) });
  };

  for (const client of options.clients) {
    const rounds = Math.max(...options.targets.map(shutdownsOf));
    for (let n = 1; n <= rounds; n++) {
      // Interleaved, so a busy moment of the machine hits every target alike.
      for (const target of options.targets) {
        if (n > shutdownsOf(target)) continue;
        progress('single instance', target.name, client);
        try {
          const { lines: _lines, stderr: _stderr, ...kept } = await runShutdownLoad({ ...targetSpec(target, options), client });
          results.single.push({ server: target.name, ...kept });
          const exit = kept.exitCode ?? kept.exitSignal;
          progress('single instance', target.name, client, `${kept.counts.completed} completed, ${kept.counts.refused} refused, ${kept.counts.lost} lost, ${kept.counts.errorStatus} error status${kept.faults.sent > 0 ? `, ${kept.faults.answered} of ${kept.faults.sent} faults answered` : ''}; exit ${exit} after ${kept.signalToExitMs} ms`);
        } catch (error) {
          results.errors.push({ part: 'single instance', server: target.name, client, message: String((error as Error)?.message ?? error) });
          progress('single instance', target.name, client, `failed to run: ${(error as Error)?.message}`);
        }
      }
    }
  }

  if (rollingTargets.length > 0) {
    results.haproxy = findHaproxy();
    if (!results.haproxy) {
      results.haproxySkipped = INSTALL_HINT;
      for (const target of rollingTargets) results.errors.push({ part: 'rolling restart', server: target.name, client: options.rollingClients[0]!, message: INSTALL_HINT });
    } else {
      for (const client of options.rollingClients) {
        for (let n = 1; n <= options.restarts; n++) {
          for (const target of rollingTargets) {
            progress('rolling restart', target.name, client);
            try {
              const spec = targetSpec(target, options);
              const result = await runRollingRestart({ ...spec, env: { ...spec.env, ...target.rollingEnv }, name: target.name, client, haproxy: results.haproxy });
              results.rolling.push(result);
              progress('rolling restart', target.name, client, `${result.counts.completed} completed, ${result.failed} failed ${JSON.stringify(result.byCode)}`);
            } catch (error) {
              results.errors.push({ part: 'rolling restart', server: target.name, client, message: String((error as Error)?.message ?? error) });
              progress('rolling restart', target.name, client, `failed to run: ${(error as Error)?.message}`);
            }
          }
        }
      }
    }
  } else {
    results.haproxySkipped = options.rolling ? 'no target to restart' : 'not asked for (--rolling)';
  }

  results.loadAfter = os.loadavg()[0] ?? 0;
  results.durationMs = Date.now() - startedAt.getTime();
  results.failures = drillFailures(results);
  return results;
}
