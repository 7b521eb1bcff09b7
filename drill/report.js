'use strict';
// The drill's markdown report and its verdict on keel.

const { summarize } = require('./shutdown-load');

const KEEL = 'keel';

const TITLES = {
  keel: 'keel (full stack, `drainOnShutdown`)',
  naive: 'naive exit (no handler)',
  'http-terminator': 'http-terminator alone',
};
const CLIENTS = { agent: 'node:http Agent', undici: 'undici Pool', 'no-keep-alive': 'node:http Agent without keep-alive' };

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The kind of loss an error code stands for, as the drill's table names them. */
function lossKind(code) {
  const text = String(code);
  if (text.startsWith('HTTP ') || /^\d{3}$/.test(text)) return 'error status';
  if (text === 'HANG' || text.includes('TIMEOUT')) return 'hung';
  if (text.startsWith('TRUNCATED') || text === 'BAD_BODY') return 'truncated';
  if (text === 'UND_ERR_SOCKET' || text === 'ECONNABORTED') return 'hang-up';
  if (text === 'ECONNRESET' || text === 'EPIPE') return 'reset';
  if (text === 'ECONNREFUSED') return 'refused';
  return 'other';
}

/** `{code: n}` as `reset (ECONNRESET) 12, hang-up (UND_ERR_SOCKET) 3`, largest first. */
function byKind(entries) {
  return Object.entries(entries)
    .sort((a, b) => b[1] - a[1])
    .map(([code, count]) => `${lossKind(code.replace(/^(lost|errorStatus|refused):/, ''))} (${code.replace(/^(lost|errorStatus|refused):/, '')}) ${count}`)
    .join(', ');
}

function tally(entries) {
  return Object.entries(entries)
    .sort((a, b) => b[1] - a[1])
    .map(([key, count]) => `${key} ${count}`)
    .join(', ');
}

/** Groups single-instance results by server and client and adds them up. */
function singleRows(single) {
  const groups = new Map();
  for (const result of single) {
    const key = `${result.server}|${result.client}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(result);
  }
  return [...groups.values()].map((results) => {
    const sums = summarize(results);
    const row = { server: results[0].server, client: results[0].client, shutdowns: sums.shutdowns, total: sums.requests, completed: sums.completed, errorStatus: sums.errorStatus, refused: sums.refused, lost: sums.lost, slowInFlight: sums.slowInFlightAtSignal, slowCompleted: sums.slowInFlightCompleted, exitCodes: {}, lostCodes: {} };
    for (const r of results) {
      const exit = r.exitCode === null ? `signal ${r.exitSignal}` : String(r.exitCode);
      row.exitCodes[exit] = (row.exitCodes[exit] || 0) + 1;
      for (const lost of r.lost) row.lostCodes[lost.code] = (row.lostCodes[lost.code] || 0) + 1;
      for (const status of r.errorStatuses) row.lostCodes[`HTTP ${status.code}`] = (row.lostCodes[`HTTP ${status.code}`] || 0) + 1;
    }
    row.exitMsMedian = median(results.map((r) => r.signalToExitMs));
    row.exitMsMax = Math.max(...results.map((r) => r.signalToExitMs));
    return row;
  });
}

function rollingRows(rolling) {
  const groups = new Map();
  for (const result of rolling) {
    const key = `${result.server}|${result.client}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(result);
  }
  return [...groups.values()].map((results) => {
    const row = { server: results[0].server, client: results[0].client, runs: results.length, restarts: 0, total: 0, completed: 0, failed: 0, byCode: {}, exitCodes: {}, exitMs: [], upMs: [], rps: [] };
    for (const r of results) {
      row.restarts += r.restarts.length;
      row.total += r.counts.total;
      row.completed += r.counts.completed;
      row.failed += r.failed;
      row.rps.push(r.requestsPerSecond);
      for (const [code, count] of Object.entries(r.byCode)) row.byCode[code] = (row.byCode[code] || 0) + count;
      for (const restart of r.restarts) {
        const exit = restart.exitCode === null ? `signal ${restart.exitSignal}` : String(restart.exitCode);
        row.exitCodes[exit] = (row.exitCodes[exit] || 0) + 1;
        row.exitMs.push(restart.signalToExitMs);
        row.upMs.push(restart.signalToUpMs);
      }
    }
    return row;
  });
}

/** What keel did wrong in this run, if anything: every entry fails the drill. */
function keelFailures(results) {
  const failures = [];
  for (const row of singleRows(results.single).filter((r) => r.server === KEEL)) {
    if (row.lost > 0) failures.push(`single instance, ${row.client}: ${row.lost} request(s) lost after sending (${tally(row.lostCodes)})`);
    if (row.errorStatus > 0) failures.push(`single instance, ${row.client}: ${row.errorStatus} error response(s)`);
    const badExits = Object.keys(row.exitCodes).filter((code) => code !== '0');
    if (badExits.length > 0) failures.push(`single instance, ${row.client}: exit ${tally(row.exitCodes)}`);
  }
  for (const row of rollingRows(results.rolling).filter((r) => r.server === KEEL)) {
    if (row.failed > 0) failures.push(`rolling restart, ${row.client}: ${row.failed} client-visible failure(s) (${tally(row.byCode)})`);
    const badExits = Object.keys(row.exitCodes).filter((code) => code !== '0');
    if (badExits.length > 0) failures.push(`rolling restart, ${row.client}: exit ${tally(row.exitCodes)}`);
  }
  for (const error of results.errors) if (error.server === KEEL) failures.push(`${error.part}, ${error.client}: ${error.message}`);
  return failures;
}

function markdown(results) {
  const { machine, settings } = results;
  const lines = [`# keel drill: ${results.startedAt.slice(0, 10)}${settings.ci ? ' (CI form)' : ''}`, ''];
  lines.push(
    `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.os}; Node ${machine.node}, Express ${machine.express}, undici ${machine.undici}, http-terminator ${machine.httpTerminator}${results.haproxy ? `, haproxy ${results.haproxy.version}` : ''}`,
    `- Load: ${settings.connections} keep-alive connections per client, ${Math.round(settings.slowShare * 100)}% of requests ${settings.slowMs[0]}-${settings.slowMs[1]} ms, the rest answered at once, ${settings.thinkMs[0]}-${settings.thinkMs[1]} ms between requests on a connection; every response body checked`,
    `- Load average (1 min) at start ${results.loadBefore.toFixed(2)}, at end ${results.loadAfter.toFixed(2)}; took ${Math.round(results.durationMs / 1000)} s`,
    '',
    'Every request is one of: **completed** (200, full body); **error status** (any other answer); **refused** (connection refused: the request never left the client, so it is safe to retry); **lost** (sent, then reset, hung up, truncated, or no answer within the request timeout: the client cannot know whether it ran).',
    '',
  );

  lines.push(`## SIGTERM under keep-alive load, one instance (SIGTERM after ~${settings.warmupMs} ms of load)`, '');
  lines.push('| server | client | SIGTERMs | requests | completed | error status | refused before sending | lost after sending | lost per SIGTERM | slow requests in flight at SIGTERM that completed | exit | SIGTERM to exit, median / max ms |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|');
  const single = singleRows(results.single);
  for (const row of single) {
    lines.push(
      `| ${TITLES[row.server] || row.server} | ${CLIENTS[row.client] || row.client} | ${row.shutdowns} | ${row.total} | ${row.completed} | ${row.errorStatus} | ${row.refused} | ${row.server === KEEL && row.lost > 0 ? `**${row.lost}**` : row.lost} | ${(row.lost / row.shutdowns).toFixed(1)} | ${row.slowCompleted} of ${row.slowInFlight} | ${tally(row.exitCodes)} | ${Math.round(row.exitMsMedian)} / ${Math.round(row.exitMsMax)} |`,
    );
  }
  const withLosses = single.filter((row) => Object.keys(row.lostCodes).length > 0);
  if (withLosses.length > 0) {
    lines.push('', '| server | client | lost or failed, by kind (error code) |', '|---|---|---|');
    for (const row of withLosses) lines.push(`| ${TITLES[row.server] || row.server} | ${CLIENTS[row.client] || row.client} | ${byKind(row.lostCodes)} |`);
  }
  lines.push('');

  lines.push('## Rolling restart behind haproxy', '');
  if (!results.haproxy) {
    lines.push(`Not run: ${results.haproxySkipped}`, '');
  } else {
    lines.push(
      `haproxy ${results.haproxy.version} in front of two instances, health check \`GET /readyz\` every ${settings.check.interMs} ms (down after ${settings.check.fall} failures, up after ${settings.check.rise}), \`retry-on conn-failure\` with \`option redispatch\` and no other retries. Each instance in turn gets SIGTERM; once it has exited, its replacement starts on the same port and the next restart waits until haproxy sees it UP. keel runs with \`preStopDelay: ${settings.preStopMs}\` (readiness fails, traffic still served, then the drain); the others have no readiness to fail.`,
      '',
    );
    lines.push('| server | client | restarts | requests | completed | client-visible failures | by error | exit | SIGTERM to exit, median ms | SIGTERM to back UP, median ms | req/s |');
    lines.push('|---|---|---:|---:|---:|---:|---|---|---:|---:|---:|');
    for (const row of rollingRows(results.rolling)) {
      lines.push(
        `| ${TITLES[row.server] || row.server} | ${CLIENTS[row.client] || row.client} | ${row.restarts} | ${row.total} | ${row.completed} | ${row.server === KEEL && row.failed > 0 ? `**${row.failed}**` : row.failed} | ${byKind(row.byCode) || '-'} | ${tally(row.exitCodes)} | ${Math.round(median(row.exitMs))} | ${Math.round(median(row.upMs))} | ${Math.round(median(row.rps))} |`,
      );
    }
    lines.push('');
  }

  if (results.errors.length > 0) {
    lines.push('## Runs that failed to complete', '');
    for (const error of results.errors) lines.push(`- ${error.part}, ${error.server}, ${error.client}: ${error.message}`);
    lines.push('');
  }

  const failures = keelFailures(results);
  lines.push('## Verdict', '', failures.length === 0 ? '**keel lost no request.**' : `**keel failed:**\n\n${failures.map((f) => `- ${f}`).join('\n')}`, '');
  return lines.join('\n');
}

module.exports = { KEEL, markdown, keelFailures, singleRows, rollingRows, lossKind };
