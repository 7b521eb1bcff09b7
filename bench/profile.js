'use strict';
// Reading a V8 .cpuprofile: self time by module (keel package, npm package, Node
// internals) and by function, per request, so a variant's cost over bare Express
// can be attributed to the code that spends it.

const fs = require('node:fs');

/** The module a call frame belongs to, from its script URL. */
function moduleOf(callFrame) {
  const { url, functionName } = callFrame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(program)') return '(program: native, not JS)';
    return '(native)';
  }
  const keel = /\/packages\/([^/]+)\/(?:dist|src)\//.exec(url);
  if (keel) return `@keel/${keel[1]}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) {
    if (/async_hooks|async_local_storage|async_context/.test(url)) return 'node: async context';
    if (/_http_|\/http\b|http_parser|http\.js|internal\/http/.test(url)) return 'node: http';
    if (/net|stream|buffer/.test(url)) return 'node: net & streams';
    if (/timers/.test(url)) return 'node: timers';
    if (/events/.test(url)) return 'node: events';
    return 'node: other';
  }
  if (url.includes('/bench/')) return 'bench app';
  return url;
}

/**
 * Self time of a profile, in µs, by module and by function.
 * Returns { totalUs, byModule: Map, byFunction: Map }, idle excluded from the total.
 */
function summarize(file) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  const { samples, timeDeltas } = profile;
  // A sample's time is the delta to the next sample.
  for (let i = 0; i < samples.length; i++) {
    const delta = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) || 0) + Math.max(delta, 0));
  }
  const byModule = new Map();
  const byFunction = new Map();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = nodes.get(id);
    const module = moduleOf(node.callFrame);
    if (module === '(idle)') continue;
    totalUs += us;
    byModule.set(module, (byModule.get(module) || 0) + us);
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${url.replace(/^.*\/(node_modules|packages)\//, '$1/').replace(/^file:\/\//, '')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    const entry = byFunction.get(key) || { module, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  return { totalUs, byModule, byFunction };
}

/**
 * Compares a variant's profile with the baseline's, per request: modules whose
 * CPU time per request differs most, and the heaviest functions of modules
 * the baseline never ran.
 */
function compare(variantFile, variantRequests, baselineFile, baselineRequests, { top = 8 } = {}) {
  const variant = summarize(variantFile);
  const baseline = summarize(baselineFile);
  const modules = new Set([...variant.byModule.keys(), ...baseline.byModule.keys()]);
  const rows = [...modules]
    .map((module) => {
      const v = (variant.byModule.get(module) || 0) / variantRequests;
      const b = (baseline.byModule.get(module) || 0) / baselineRequests;
      return { module, baselineUs: b, variantUs: v, deltaUs: v - b };
    })
    .sort((a, b) => Math.abs(b.deltaUs) - Math.abs(a.deltaUs));
  // Functions of modules bare Express never ran: the code the variant added.
  const functions = [...variant.byFunction.entries()]
    .filter(([, entry]) => !baseline.byModule.has(entry.module))
    .map(([name, entry]) => ({ name, module: entry.module, us: entry.us / variantRequests }))
    .sort((a, b) => b.us - a.us)
    .slice(0, top);
  return {
    baselineUsPerRequest: baseline.totalUs / baselineRequests,
    variantUsPerRequest: variant.totalUs / variantRequests,
    modules: rows.slice(0, top),
    functions,
  };
}

module.exports = { summarize, compare, moduleOf };
