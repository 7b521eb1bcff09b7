/**
 * Turns Prometheus' text format into OpenMetrics 1.0: a counter's family is
 * named without the `_total` suffix its samples carry (a counter named without
 * it gets it on its samples), and the exposition ends with `# EOF`. Gauges,
 * histograms and label escaping are the same in both.
 */
export function toOpenMetrics(text: string): string {
  const lines = text.split('\n');
  const counters = new Set<string>();
  for (const line of lines) {
    const match = /^# TYPE (\S+) counter$/.exec(line);
    if (match !== null) counters.add(match[1]!);
  }
  const out: string[] = [];
  for (const line of lines) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+)(.*)$/.exec(line);
    if (meta !== null) {
      const name = meta[2]!;
      out.push(counters.has(name) && name.endsWith('_total') ? `# ${meta[1]} ${name.slice(0, -'_total'.length)}${meta[3]}` : line);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)([{ ].*)$/.exec(line);
    if (sample !== null && counters.has(sample[1]!) && !sample[1]!.endsWith('_total')) {
      out.push(`${sample[1]}_total${sample[2]}`);
      continue;
    }
    out.push(line);
  }
  out.push('# EOF');
  return `${out.join('\n')}\n`;
}
