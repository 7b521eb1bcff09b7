'use strict';
// What the per-request benches (bench/cpu.js: CPU time; bench/instructions.js:
// instructions counted by valgrind) share: which servers a run needs, and the
// rows, ratios and verdicts of its report.

const path = require('node:path');
const { median } = require('./report');

const VARIANT_DIR = path.join(__dirname, 'variants');
/** The baseline every ratio is taken against. */
const BASELINE = 'express5';
/** The second bare Express 5 server, whose ratio to the first is the run's noise (the A/A row). */
const AA = 'express5 (A/A)';
/** The variants measured when `--variants` is not given. */
const DEFAULT_VARIANTS = Object.freeze(['keel-trace-id', 'keel-timeout', 'keel-stack', 'keel-drain', 'keel-error-handler', 'keel-metrics', 'cls-rtracer', 'express-http-context', 'connect-timeout', 'express-prom-bundle', 'floor-stack-layers', 'floor-drain', 'floor-metrics']);

/**
 * A variant's module with its `name` and the `file` its server loads. A name
 * with a parameter (`keel-stack:without-guard+drain`) loads the file before
 * the colon, whose `describe(parameter)` titles it; such a variant is measured
 * as it is, not judged.
 */
function loadVariant(name) {
  if (name === AA) return { ...loadVariant(BASELINE), name, file: BASELINE, title: 'bare Express 5, a second server (A/A)' };
  const [file, parameter] = name.split(':');
  const variant = require(path.join(VARIANT_DIR, `${file}.js`));
  if (parameter === undefined) return { name, file: name, ...variant };
  return { name, file: name, title: variant.describe(parameter), group: variant.group, floor: variant.floor };
}

/**
 * Every variant a run of `chosen` measures: bare Express 5 twice (the A/A row),
 * the chosen ones, the hand-written floor each names, and the competitors each
 * is to beat when they were chosen too.
 */
function variantsFor(chosen) {
  const names = new Set([BASELINE, AA, ...chosen]);
  for (const name of chosen) {
    const { floor, fasterThan } = loadVariant(name);
    if (floor) names.add(floor);
    for (const other of fasterThan || []) if (chosen.includes(other)) names.add(other);
  }
  return [...names].map(loadVariant);
}

function weightedMean(samples) {
  let cost = 0;
  let requests = 0;
  for (const sample of samples) {
    cost += sample.cost * (sample.requests ?? 1);
    requests += sample.requests ?? 1;
  }
  return cost / requests;
}

function quartiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return [sorted[Math.floor(sorted.length / 4)], sorted[Math.ceil((3 * sorted.length) / 4) - 1]];
}

/**
 * The rows and verdicts of a run. `samples` maps a variant's name to its
 * samples (`{ cost, requests?, p99?, peakRss?, failures }`, cost per request in
 * any unit, or `{ unavailable }`). With `paired`, the k-th samples of all
 * variants were taken together (one slice), a variant's cost is the median of
 * its samples, and ratios are taken sample by sample, then their median.
 * Otherwise the ratio is that of the medians, and each row also carries
 * `mean`, the cost over all its requests (every sample weighed by its
 * `requests`, so a slice in which a major garbage collection fell counts
 * with it). A ratio above 1 means the variant costs less than its reference.
 */
function summarize(variants, samples, { paired }) {
  const rows = new Map();
  for (const variant of variants) {
    const mine = samples.get(variant.name) || [];
    if (mine.length === 0 || mine.some((sample) => sample.unavailable)) {
      rows.set(variant.name, { variant, unavailable: (mine.find((sample) => sample.unavailable) || {}).unavailable || 'not measured' });
      continue;
    }
    const known = (key) => mine.map((sample) => sample[key]).filter((value) => value !== undefined);
    rows.set(variant.name, {
      variant,
      cost: median(mine.map((sample) => sample.cost)),
      mean: paired ? undefined : weightedMean(mine),
      all: mine.map((sample) => sample.cost),
      p99: known('p99').length ? median(known('p99')) : undefined,
      peakRss: known('peakRss').length ? Math.max(...known('peakRss')) : undefined,
      failures: mine.reduce((sum, sample) => sum + (sample.failures || 0), 0),
    });
  }
  const base = rows.get(BASELINE);
  const ratios = (reference, row) => row.all.map((cost, k) => (paired ? reference.all[k] : reference.cost) / cost);
  const ratio = (reference, row) => (paired ? median(ratios(reference, row)) : reference.cost / row.cost);
  for (const row of rows.values()) {
    if (row.unavailable || !base || base.unavailable) continue;
    row.toBare = ratio(base, row);
    row.toBareSpread = quartiles(ratios(base, row));
    const floor = row.variant.floor && rows.get(row.variant.floor);
    if (floor && !floor.unavailable) {
      row.toFloor = ratio(floor, row);
      row.toFloorSpread = quartiles(ratios(floor, row));
    }
    const checks = [];
    if (row.variant.name === AA) checks.push({ claim: 'A/A within 0.97-1.03x', met: row.toBare >= 0.97 && row.toBare <= 1.03 });
    if (row.variant.target !== undefined) {
      const value = row.variant.floor ? row.toFloor : row.toBare;
      checks.push({ claim: `>= ${row.variant.target.toFixed(2)}x ${row.variant.floor ? 'of floor' : 'of bare'}`, met: Number.isFinite(value) ? value >= row.variant.target : null });
    }
    const limits = row.variant.limits || {};
    if (limits.p99 !== undefined && row.p99 !== undefined) checks.push({ claim: `p99 <= ${limits.p99}x bare`, met: row.p99 / base.p99 <= limits.p99 });
    if (limits.rssMiB !== undefined && row.peakRss !== undefined) checks.push({ claim: `peak RSS <= bare + ${limits.rssMiB} MiB`, met: (row.peakRss - base.peakRss) / 1048576 <= limits.rssMiB });
    for (const other of row.variant.fasterThan || []) {
      const theirs = rows.get(other);
      if (theirs && !theirs.unavailable) checks.push({ claim: `faster than ${other}`, met: ratio(theirs, row) > 1 });
    }
    row.checks = checks;
  }
  return rows;
}

/**
 * The report's table: `costColumn` names the cost (e.g. `server CPU µs/req`),
 * `formatCost` prints one, and p99 and peak RSS columns appear when measured.
 */
function markdownTable(rows, { node, costColumn, formatCost }) {
  const fixed = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
  const ratio = (value, range) => (value === undefined ? '' : `${fixed(value, 3)}x (${fixed(range[0], 2)}-${fixed(range[1], 2)})`);
  const measured = [...rows.values()].filter((row) => !row.unavailable);
  const withLatency = measured.some((row) => row.p99 !== undefined);
  const withMean = measured.some((row) => row.mean !== undefined);
  const extra = `${withLatency ? ' p99 ms | peak RSS MiB |' : ''}${withMean ? ' mean over all requests | its ratio to bare |' : ''}`;
  const lines = [`| variant (Node ${node}) | ${costColumn} | ratio to bare | to floor |${extra} targets |`, `|---|---:|---:|---:|${withLatency ? '---:|---:|' : ''}${withMean ? '---:|---:|' : ''}---|`];
  const base = rows.get(BASELINE);
  for (const row of rows.values()) {
    if (row.unavailable) {
      lines.push(`| ${row.variant.title} | unavailable: ${row.unavailable} | | |${withLatency ? ' | |' : ''}${withMean ? ' | |' : ''} |`);
      continue;
    }
    const checks = (row.checks || []).map((check) => `${check.claim}: ${check.met === null ? 'n/a' : check.met ? 'met' : '**NOT met**'}`).join('; ');
    const latency = withLatency ? ` ${fixed(row.p99, 0)} | ${fixed(row.peakRss / 1048576, 0)} |` : '';
    const mean = withMean ? ` ${formatCost(row.mean)} | ${base && !base.unavailable ? `${fixed(base.mean / row.mean, 3)}x` : ''} |` : '';
    lines.push(`| ${row.variant.title} | ${formatCost(row.cost)} | ${ratio(row.toBare, row.toBareSpread)} | ${ratio(row.toFloor, row.toFloorSpread)} |${latency}${mean} ${checks}${row.failures ? ` (${row.failures} failed requests)` : ''} |`);
  }
  return lines.join('\n');
}

/** Fisher-Yates: a new order of `items` for each slice. */
function shuffled(items) {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

/** The machine, as the reports name it. */
function machineName() {
  const os = require('node:os');
  return `${os.cpus()[0].model}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
}

module.exports = { BASELINE, AA, DEFAULT_VARIANTS, loadVariant, variantsFor, summarize, markdownTable, shuffled, machineName };
