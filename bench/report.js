'use strict';
// Turning the raw samples of a bench run into medians, ratios, target verdicts
// and the markdown report.

const BASELINE = 'express5';

function median(values) {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Per variant and route: medians over rounds. Each round's ratio was taken
 * against the round's bare Express 5 server loaded at the same time on the same
 * core, so whatever slows the machine slows both alike.
 */
function summarize(results) {
  const rows = {};
  for (const variant of results.variants) {
    if (variant.status !== 'ok') continue;
    rows[variant.name] = {};
    for (const route of results.settings.routes) {
      const samples = (results.samples[variant.name] || {})[route] || [];
      const ratios = samples.map((sample) => sample.ratio).filter(Number.isFinite);
      const cpuRatios = samples.map((sample) => sample.cpuRatio).filter(Number.isFinite);
      rows[variant.name][route] = {
        rounds: samples.length,
        rps: median(samples.map((s) => s.rps)),
        ratio: median(ratios),
        ratioMin: ratios.length ? Math.min(...ratios) : NaN,
        ratioMax: ratios.length ? Math.max(...ratios) : NaN,
        cpuRatio: median(cpuRatios),
        p50: median(samples.map((s) => s.latencyP50)),
        p99: median(samples.map((s) => s.latencyP99)),
        peakRss: median(samples.map((s) => s.peakRss)),
        cpuUsPerRequest: median(samples.map((s) => s.cpuUsPerRequest)),
        failures: samples.reduce((sum, s) => sum + s.non2xx + s.errors + s.timeouts, 0),
      };
    }
  }
  return rows;
}

/** Every target of the run with its verdict: ratio targets per route, and faster-than claims. */
function verdicts(results, rows = summarize(results)) {
  const out = [];
  const byName = new Map(results.variants.map((variant) => [variant.name, variant]));
  for (const variant of results.variants) {
    if (variant.target !== undefined) {
      // Judged against the variant's hand-written floor when it names one, else against bare Express 5.
      const floor = variant.floor === undefined ? undefined : byName.get(variant.floor);
      for (const route of results.settings.routes) {
        const row = rows[variant.name] && rows[variant.name][route];
        const floorRow = floor === undefined ? undefined : rows[floor.name] && rows[floor.name][route];
        const value = row === undefined ? NaN : floor === undefined ? row.ratio : floorRow === undefined ? NaN : row.ratio / floorRow.ratio;
        out.push({
          kind: floor === undefined ? 'ratio' : 'floor',
          variant: variant.name,
          route,
          claim: `${variant.title} >= ${variant.target.toFixed(2)}x${floor === undefined ? '' : ` of its floor (${floor.title})`}`,
          value,
          met: variant.status === 'ok' && Number.isFinite(value) ? value >= variant.target : null,
        });
      }
    }
    for (const [bound, limit] of Object.entries(variant.limits || {})) {
      for (const route of results.settings.routes) {
        const row = rows[variant.name] && rows[variant.name][route];
        const base = rows[BASELINE] && rows[BASELINE][route];
        const known = row !== undefined && base !== undefined;
        // p99: at most `limit` times bare Express 5's; rssMiB: at most `limit` MiB above its peak RSS.
        const value = !known ? NaN : bound === 'p99' ? row.p99 / base.p99 : (row.peakRss - base.peakRss) / 1048576;
        out.push({
          kind: bound,
          variant: variant.name,
          route,
          claim: bound === 'p99' ? `${variant.title} p99 <= ${limit}x bare Express 5's` : `${variant.title} peak RSS <= bare Express 5's + ${limit} MiB`,
          value,
          met: variant.status === 'ok' && Number.isFinite(value) ? value <= limit : null,
        });
      }
    }
    for (const other of variant.fasterThan || []) {
      for (const route of results.settings.routes) {
        const mine = rows[variant.name] && rows[variant.name][route];
        const theirs = rows[other] && rows[other][route];
        const known = mine !== undefined && theirs !== undefined;
        out.push({
          kind: 'faster',
          variant: variant.name,
          other,
          route,
          claim: `${variant.title} faster than ${(byName.get(other) || { title: other }).title}`,
          // Each side's ratio was taken against its own round's baseline: comparing
          // ratios, not raw req/s measured at different moments, cancels drift.
          value: known ? mine.ratio / theirs.ratio : NaN,
          met: known ? mine.ratio > theirs.ratio : null,
        });
      }
    }
  }
  return out;
}

const fmt = {
  int: (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'),
  ratio: (n) => (Number.isFinite(n) ? `${n.toFixed(3)}x` : 'n/a'),
  ms: (n) => (Number.isFinite(n) ? String(Math.round(n * 100) / 100) : 'n/a'),
  us: (n) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a'),
  mib: (n) => (Number.isFinite(n) ? (n / 1048576).toFixed(1) : 'n/a'),
  verdict: (met) => (met === null ? 'unavailable' : met ? 'met' : '**NOT met**'),
};

const ROUTE_TITLES = { trivial: 'trivial JSON route (`GET /trivial`, `{"ok":true}`)', json2k: '~2 KB JSON route (`GET /json2k`)' };

function markdown(results) {
  const rows = summarize(results);
  const checks = verdicts(results, rows);
  const { machine, settings } = results;
  // In every table's first header cell, so a table copied on its own still says where it was measured.
  const onNode = `Node ${String(machine.node).replace(/^v/, '')}`;
  const lines = [];
  lines.push(`# keel bench: ${results.startedAt.slice(0, 10)}`, '');
  lines.push(
    `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, ${machine.os}`,
    `- Node ${machine.node}, Express ${machine.express5} and ${machine.express4}, autocannon ${machine.autocannon}`,
    `- ${settings.rounds} round(s), variants in a new order each round; per variant and route ${fmt.int(settings.warmup)} warm-up requests (discarded), then ${settings.duration} s measured in ${settings.slices} slice(s), the round's bare Express 5 server loaded at the same time on the same core; ${settings.connections} keep-alive connections per server`,
    `- ${settings.pinning ? `servers pinned to core ${settings.pinning.server}, the two autocannon processes to core ${settings.pinning.load} (taskset)` : 'no CPU pinning (taskset missing, --no-pin, or one core): the two servers do not share one core, so ratios are noisier'}`,
    `- Load average (1 min) at start ${results.loadBefore.toFixed(2)}, at end ${results.loadAfter.toFixed(2)}${results.loadAfter > 2.5 || results.loadBefore > 2.5 ? ': **the machine was busy with other work; absolute numbers are low and ratios noisy**' : ''}`,
    `- Started ${results.startedAt}, took ${Math.round(results.durationMs / 1000)} s`,
    '',
    'Ratio: the variant\'s requests per second over those of the bare Express 5 server loaded at the same time on the same core (two always-busy servers get equal shares of it, so the ratio is that of their costs per request), median over rounds (range in brackets); targets are judged on it. The bare Express 5 row is that server against a second bare Express 5 server: its distance from 1.000x is the noise of the run. Server CPU: user + system CPU time of the server process over the measured window, per request. CPU ratio: bare Express 5\'s server CPU per request over the variant\'s, same round, median; it counts only time the server ran, so it is the steadier cross-check when other work shares the machine.',
    '',
  );
  for (const route of settings.routes) {
    lines.push(`## ${ROUTE_TITLES[route] || route}`, '');
    lines.push(`| variant (${onNode}) | req/s | ratio to Express 5 | p50 ms | p99 ms | peak RSS MiB | server CPU µs/req | CPU ratio | target |`);
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const variant of results.variants) {
      if (variant.status !== 'ok') {
        lines.push(`| ${variant.title} | unavailable | | | | | | | ${variant.target ? `>= ${variant.target}x: unavailable` : ''} |`);
        continue;
      }
      const row = rows[variant.name][route];
      const title = variant.name === BASELINE ? `${variant.title} (A/A: the noise floor)` : variant.title;
      const range = row.rounds > 1 ? ` (${row.ratioMin.toFixed(2)}–${row.ratioMax.toFixed(2)})` : '';
      const judged = checks.filter((check) => check.variant === variant.name && check.route === route && check.kind !== 'faster');
      const target = judged.map((check) => `${check.kind === 'floor' ? `${fmt.ratio(check.value)} of floor, ` : check.kind === 'p99' ? `p99 ${fmt.ratio(check.value)}, ` : check.kind === 'rssMiB' ? `RSS +${fmt.us(check.value)} MiB, ` : ''}${check.kind === 'rssMiB' ? `<= ${variant.limits.rssMiB}` : check.kind === 'p99' ? `<= ${variant.limits.p99}x` : `>= ${variant.target.toFixed(2)}x`}: ${fmt.verdict(check.met)}`).join('; ');
      const failures = row.failures > 0 ? ` (${row.failures} failed)` : '';
      lines.push(`| ${title} | ${fmt.int(row.rps)}${failures} | ${fmt.ratio(row.ratio)}${range} | ${fmt.ms(row.p50)} | ${fmt.ms(row.p99)} | ${fmt.mib(row.peakRss)} | ${fmt.us(row.cpuUsPerRequest)} | ${fmt.ratio(row.cpuRatio)} | ${target} |`);
    }
    lines.push('');
  }

  const faster = checks.filter((check) => check.kind === 'faster');
  if (faster.length > 0) {
    lines.push('## Comparisons', '', 'The ratio of the two variants\' ratios to bare Express 5 (each taken beside its own baseline): above 1.000x, the first is faster.', '', `| claim (${onNode}) | route | ratio of ratios | verdict |`, '|---|---|---:|---|');
    for (const check of faster) lines.push(`| ${check.claim} | ${check.route} | ${fmt.ratio(check.value)} | ${fmt.verdict(check.met)} |`);
    lines.push('');
  }

  for (const memory of results.memory || []) {
    lines.push(`## Memory: ${memory.title}`, '');
    if (memory.error) {
      lines.push(`Not measured: ${memory.error}`, '');
      continue;
    }
    lines.push(`After a warm-up of ${fmt.int(memory.points[0].requests)} requests, then ${fmt.int(memory.extraRequests)} more in steps; a full GC before each reading.`, '');
    lines.push(`| requests after warm-up (${onNode}) | RSS MiB | heap used MiB | heap total MiB |`, '|---:|---:|---:|---:|');
    const base = memory.points[0];
    for (const point of memory.points) lines.push(`| ${fmt.int(point.requests - base.requests)} | ${fmt.mib(point.rss)} | ${fmt.mib(point.heapUsed)} | ${fmt.mib(point.heapTotal)} |`);
    const last = memory.points[memory.points.length - 1];
    lines.push('', `Heap used ${last.heapUsed >= base.heapUsed ? '+' : ''}${fmt.mib(last.heapUsed - base.heapUsed)} MiB, RSS ${last.rss >= base.rss ? '+' : ''}${fmt.mib(last.rss - base.rss)} MiB over ${fmt.int(memory.extraRequests)} requests: ${memory.verdict}.`, '');
  }

  if ((results.profiles || []).length > 0) {
    lines.push('## Targets not met: where the time goes', '');
    lines.push(`CPU profiles (V8 sampling profiler through node:inspector, ${Math.max(results.settings.duration, 3)} s of load after a warm-up, on a fresh server of the variant and of bare Express 5; not paired, so as noisy as the machine); self time per request by module, largest differences first.`, '');
    for (const profile of results.profiles) {
      if (profile.error) {
        lines.push(`### ${profile.title}, ${profile.route}`, '', `Profile failed: ${profile.error}`, '');
        continue;
      }
      const c = profile.comparison;
      lines.push(`### ${profile.title}, ${profile.route}: ${fmt.us(c.variantUsPerRequest)} µs/req against ${fmt.us(c.baselineUsPerRequest)} µs/req for bare Express 5`, '');
      lines.push(`| module (${onNode}) | Express 5 µs/req | variant µs/req | difference |`, '|---|---:|---:|---:|');
      for (const m of c.modules) lines.push(`| ${m.module} | ${fmt.us(m.baselineUs)} | ${fmt.us(m.variantUs)} | ${m.deltaUs >= 0 ? '+' : ''}${fmt.us(m.deltaUs)} |`);
      if (c.functions.length > 0) {
        lines.push('', `| heaviest functions of modules bare Express 5 never ran (${onNode}) | module | µs/req |`, '|---|---|---:|');
        for (const f of c.functions) lines.push(`| \`${f.name}\` | ${f.module} | ${fmt.us(f.us)} |`);
      }
      lines.push('');
    }
  }

  const unavailable = results.variants.filter((variant) => variant.status !== 'ok');
  if (unavailable.length > 0) {
    lines.push('## Unavailable variants', '');
    for (const variant of unavailable) lines.push(`- ${variant.title} (\`${variant.name}\`): ${variant.reason}`);
    lines.push('');
  }

  lines.push('## Variants', '', `| variant (${onNode}) | name | what is mounted |`, '|---|---|---|');
  for (const variant of results.variants) lines.push(`| ${variant.title} | \`${variant.name}\` | ${variant.setup} |`);
  lines.push('');
  return lines.join('\n');
}

module.exports = { BASELINE, median, summarize, verdicts, markdown };
