import type { Haproxy } from './haproxy';
import type { RollingRestartResult } from './rolling';
import { summarize, type ShutdownLoadResult } from './shutdown-load';

/** One single-instance result, with the target it ran against. */
export type SingleResult = Omit<ShutdownLoadResult, 'lines' | 'stderr'> & { readonly server: string };

/** Everything a drill run gathered: what the report is made of, and what `--json` prints. */
export interface DrillResults {
  startedAt: string;
  machine: Record<string, string | number>;
  settings: Record<string, unknown> & { connections: number; slowShare: number; slowMs: readonly number[]; thinkMs: readonly number[]; warmupMs: number; check: { interMs: number; fall: number; rise: number }; faults: readonly string[]; faultShare: number };
  /** The targets judged: any loss, error answer, bad exit or failed run of theirs fails the drill. */
  judged: string[];
  /** Who the verdict speaks of: "keel", "the app". */
  subject: string;
  titles: Record<string, string>;
  loadBefore: number;
  loadAfter?: number;
  durationMs?: number;
  single: SingleResult[];
  rolling: RollingRestartResult[];
  errors: Array<{ part: string; server: string; client: string; message: string }>;
  haproxy: Haproxy | null;
  haproxySkipped: string | undefined;
  failures?: string[];
}

const CLIENTS: Record<string, string> = { agent: 'node:http Agent', undici: 'undici Pool', 'no-keep-alive': 'node:http Agent without keep-alive' };

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The kind of loss an error code stands for, as the report names them. */
export function lossKind(code: string): string {
  if (code.startsWith('HTTP ') || /^\d{3}$/.test(code)) return 'error status';
  if (code === 'HANG' || code.includes('TIMEOUT')) return 'hung';
  if (code.startsWith('TRUNCATED') || code === 'BAD_BODY') return 'truncated';
  if (code === 'UND_ERR_SOCKET' || code === 'ECONNABORTED') return 'hang-up';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  if (code === 'ECONNREFUSED') return 'refused';
  return 'other';
}

/** `{code: n}` as `reset (ECONNRESET) 12, hang-up (UND_ERR_SOCKET) 3`, largest first. */
function byKind(entries: Record<string, number>): string {
  return Object.entries(entries)
    .sort((a, b) => b[1] - a[1])
    .map(([key, count]) => {
      const code = key.replace(/^(lost|errorStatus|refused|resetUnaccepted):/, '');
      return `${lossKind(code)} (${code}) ${count}`;
    })
    .join(', ');
}

function tally(entries: Record<string, number>): string {
  return Object.entries(entries)
    .sort((a, b) => b[1] - a[1])
    .map(([key, count]) => `${key} ${count}`)
    .join(', ');
}

function groups<T extends { server: string; client: string }>(items: readonly T[]): T[][] {
  const found = new Map<string, T[]>();
  for (const item of items) {
    const key = `${item.server}|${item.client}`;
    if (!found.has(key)) found.set(key, []);
    found.get(key)!.push(item);
  }
  return [...found.values()];
}

/** Single-instance results added up by target and client. */
export function singleRows(single: readonly SingleResult[]) {
  return groups(single).map((results) => {
    const sums = summarize(results as unknown as ShutdownLoadResult[]);
    const exitCodes: Record<string, number> = {};
    const lostCodes: Record<string, number> = {};
    for (const r of results) {
      const exit = r.exitCode === null ? `signal ${r.exitSignal}` : String(r.exitCode);
      exitCodes[exit] = (exitCodes[exit] ?? 0) + 1;
      for (const lost of r.lost) lostCodes[lost.code] = (lostCodes[lost.code] ?? 0) + 1;
      for (const status of r.errorStatuses) lostCodes[`HTTP ${status.code}`] = (lostCodes[`HTTP ${status.code}`] ?? 0) + 1;
    }
    return {
      server: results[0]!.server,
      client: results[0]!.client,
      shutdowns: sums.shutdowns,
      total: sums.requests,
      completed: sums.completed,
      errorStatus: sums.errorStatus,
      refused: sums.refused,
      lost: sums.lost,
      faultsSent: sums.faultsSent,
      faultsAnswered: sums.faultsAnswered,
      slowInFlight: sums.slowInFlightAtSignal,
      slowCompleted: sums.slowInFlightCompleted,
      exitCodes,
      lostCodes,
      exitMsMedian: median(results.map((r) => r.signalToExitMs)),
      exitMsMax: Math.max(...results.map((r) => r.signalToExitMs)),
    };
  });
}

/** Rolling-restart results added up by target and client. */
export function rollingRows(rolling: readonly RollingRestartResult[]) {
  return groups(rolling).map((results) => {
    const row = { server: results[0]!.server, client: results[0]!.client as string, runs: results.length, restarts: 0, total: 0, completed: 0, failed: 0, faultsSent: 0, faultsAnswered: 0, byCode: {} as Record<string, number>, exitCodes: {} as Record<string, number>, exitMs: [] as number[], upMs: [] as number[], rps: [] as number[] };
    for (const r of results) {
      row.restarts += r.restarts.length;
      row.total += r.counts.total;
      row.completed += r.counts.completed;
      row.failed += r.failed;
      row.faultsSent += r.faults.sent;
      row.faultsAnswered += r.faults.answered;
      row.rps.push(r.requestsPerSecond);
      for (const [code, count] of Object.entries(r.byCode)) row.byCode[code] = (row.byCode[code] ?? 0) + count;
      for (const restart of r.restarts) {
        const exit = restart.exitCode === null || restart.exitCode === undefined ? `signal ${restart.exitSignal}` : String(restart.exitCode);
        row.exitCodes[exit] = (row.exitCodes[exit] ?? 0) + 1;
        row.exitMs.push(restart.signalToExitMs ?? Number.NaN);
        row.upMs.push(restart.signalToUpMs ?? Number.NaN);
      }
    }
    return row;
  });
}

/** What the judged targets did wrong, if anything: every entry fails the drill. */
export function drillFailures(results: Pick<DrillResults, 'single' | 'rolling' | 'errors' | 'judged'>): string[] {
  const failures: string[] = [];
  const judged = (server: string) => results.judged.includes(server);
  const who = (server: string) => (results.judged.length > 1 ? `${server}, ` : '');
  for (const row of singleRows(results.single).filter((r) => judged(r.server))) {
    if (row.lost > 0) failures.push(`${who(row.server)}single instance, ${row.client}: ${row.lost} request(s) lost after sending (${tally(row.lostCodes)})`);
    if (row.errorStatus > 0) failures.push(`${who(row.server)}single instance, ${row.client}: ${row.errorStatus} error response(s)`);
    if (Object.keys(row.exitCodes).some((code) => code !== '0')) failures.push(`${who(row.server)}single instance, ${row.client}: exit ${tally(row.exitCodes)}`);
  }
  for (const row of rollingRows(results.rolling).filter((r) => judged(r.server))) {
    if (row.failed > 0) failures.push(`${who(row.server)}rolling restart, ${row.client}: ${row.failed} client-visible failure(s) (${tally(row.byCode)})`);
    if (Object.keys(row.exitCodes).some((code) => code !== '0')) failures.push(`${who(row.server)}rolling restart, ${row.client}: exit ${tally(row.exitCodes)}`);
  }
  for (const error of results.errors) if (judged(error.server)) failures.push(`${who(error.server)}${error.part}, ${error.client}: ${error.message}`);
  return failures;
}

/** The markdown report: the tables and the verdict. */
export function markdown(results: DrillResults): string {
  const { machine, settings } = results;
  const title = (server: string) => results.titles[server] ?? server;
  const client = (kind: string) => CLIENTS[kind] ?? kind;
  // In every table's first header cell, so a table copied on its own still says where it ran.
  const onNode = `Node ${String(machine.node).replace(/^v/, '')}`;
  const lines = [`# keel-drill: ${results.startedAt.slice(0, 10)}${settings.ci ? ' (CI form)' : ''}`, ''];
  lines.push(
    `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.os}; Node ${machine.node}${Object.entries(machine)
      .filter(([key]) => !['cpu', 'cores', 'os', 'node'].includes(key))
      .map(([key, value]) => `, ${key} ${value}`)
      .join('')}${results.haproxy ? `, haproxy ${results.haproxy.version}` : ''}`,
    `- Load: ${settings.connections} keep-alive connections per client, ${Math.round(settings.slowShare * 100)}% of requests slow (${settings.slowMs[0]}-${settings.slowMs[1]} ms), ${settings.thinkMs[0]}-${settings.thinkMs[1]} ms between requests on a connection; every response body checked${settings.faults.length > 0 ? `; ${Math.round(settings.faultShare * 100)}% of requests carry a chaos trigger (${settings.faults.join(', ')})` : ''}`,
    `- Load average (1 min) at start ${results.loadBefore.toFixed(2)}, at end ${(results.loadAfter ?? 0).toFixed(2)}; took ${Math.round((results.durationMs ?? 0) / 1000)} s`,
    '',
    'Every request is one of: **completed** (2xx or 3xx, full body); **error status** (any other answer); **refused** (connection refused: the request never left the client, so it is safe to retry); **lost** (sent, then reset, hung up, truncated, or no answer within the request timeout: the client cannot know whether it ran).',
    '',
  );

  lines.push(`## SIGTERM under keep-alive load, one instance (SIGTERM after ~${settings.warmupMs} ms of load)`, '');
  const single = singleRows(results.single);
  const withFaults = settings.faults.length > 0;
  lines.push(`| server (${onNode}) | client | SIGTERMs | requests | completed | error status | refused before sending | lost after sending | lost per SIGTERM | slow requests in flight at SIGTERM that completed |${withFaults ? ' injected faults answered |' : ''} exit | SIGTERM to exit, median / max ms |`);
  lines.push(`|---|---|---:|---:|---:|---:|---:|---:|---:|---:|${withFaults ? '---:|' : ''}---|---:|`);
  for (const row of single) {
    const lost = results.judged.includes(row.server) && row.lost > 0 ? `**${row.lost}**` : String(row.lost);
    lines.push(
      `| ${title(row.server)} | ${client(row.client)} | ${row.shutdowns} | ${row.total} | ${row.completed} | ${row.errorStatus} | ${row.refused} | ${lost} | ${(row.lost / row.shutdowns).toFixed(1)} | ${row.slowCompleted} of ${row.slowInFlight} |${withFaults ? ` ${row.faultsAnswered} of ${row.faultsSent} |` : ''} ${tally(row.exitCodes)} | ${Math.round(row.exitMsMedian)} / ${Math.round(row.exitMsMax)} |`,
    );
  }
  const withLosses = single.filter((row) => Object.keys(row.lostCodes).length > 0);
  if (withLosses.length > 0) {
    lines.push('', `| server (${onNode}) | client | lost or failed, by kind (error code) |`, '|---|---|---|');
    for (const row of withLosses) lines.push(`| ${title(row.server)} | ${client(row.client)} | ${byKind(row.lostCodes)} |`);
  }
  lines.push('');

  lines.push('## Rolling restart behind haproxy', '');
  if (!results.haproxy) {
    lines.push(`Not run: ${results.haproxySkipped}`, '');
  } else {
    lines.push(
      `haproxy ${results.haproxy.version} in front of two instances, health check every ${settings.check.interMs} ms (down after ${settings.check.fall} failures, up after ${settings.check.rise}), \`retry-on conn-failure\` with \`option redispatch\` and no other retries. Each instance in turn gets SIGTERM; once it has exited, its replacement starts on the same port and the next restart waits until haproxy sees it UP.`,
      '',
    );
    lines.push(`| server (${onNode}) | client | restarts | requests | completed | client-visible failures | by error | exit | SIGTERM to exit, median ms | SIGTERM to back UP, median ms | req/s |`);
    lines.push('|---|---|---:|---:|---:|---:|---|---|---:|---:|---:|');
    for (const row of rollingRows(results.rolling)) {
      const failed = results.judged.includes(row.server) && row.failed > 0 ? `**${row.failed}**` : String(row.failed);
      lines.push(
        `| ${title(row.server)} | ${client(row.client)} | ${row.restarts} | ${row.total} | ${row.completed + row.faultsAnswered} | ${failed} | ${byKind(row.byCode) || '-'} | ${tally(row.exitCodes)} | ${Math.round(median(row.exitMs))} | ${Math.round(median(row.upMs))} | ${Math.round(median(row.rps))} |`,
      );
    }
    lines.push('');
  }

  if (results.errors.length > 0) {
    lines.push('## Runs that failed to complete', '');
    for (const error of results.errors) lines.push(`- ${error.part}, ${error.server}, ${error.client}: ${error.message}`);
    lines.push('');
  }

  const failures = drillFailures(results);
  lines.push('## Verdict', '', failures.length === 0 ? `**${results.subject} lost no request.**` : `**${results.subject} failed:**\n\n${failures.map((f) => `- ${f}`).join('\n')}`, '');
  return lines.join('\n');
}
