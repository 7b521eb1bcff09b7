import { summarize, verdicts, markdown } from './report';

type Sample = { round: number; rps: number; baseRps: number; ratio: number; cpuUsPerRequest: number; cpuRatio: number; latencyP50: number; latencyP99: number; non2xx: number; errors: number; timeouts: number };

// A round's sample as run.js records it: the variant beside that round's baseline.
function sample(round: number, rps: number, baseRps: number): Sample {
  const cpuUsPerRequest = 1e6 / rps;
  const baseCpu = 1e6 / baseRps;
  return { round, rps, baseRps, ratio: rps / baseRps, cpuUsPerRequest, cpuRatio: baseCpu / cpuUsPerRequest, latencyP50: 5, latencyP99: 9, non2xx: 0, errors: 0, timeouts: 0 };
}

function results(samples: Record<string, Array<[number, number]>>, variants: Array<Record<string, unknown>>) {
  return {
    startedAt: '2024-01-01T00:00:00.000Z',
    durationMs: 1000,
    loadBefore: 0.5,
    loadAfter: 0.5,
    machine: { cpu: 'cpu', cores: 2, memoryGiB: 4, os: 'Linux', node: 'v20', express5: '5', express4: '4', autocannon: '9' },
    settings: { rounds: 3, duration: 1, pairs: 1, warmup: 1000, connections: 50, routes: ['trivial'], pinning: null },
    variants: variants.map((v) => ({ status: 'ok', setup: '', ...v })),
    samples: Object.fromEntries(Object.entries(samples).map(([name, pairs]) => [name, { trivial: pairs.map(([rps, base], i) => sample(i + 1, rps, base)) }])),
    memory: [],
    profiles: [],
  };
}

describe('bench report', () => {
  it('takes the median of the per-round ratios, so a slow round slows the variant and its baseline alike', () => {
    // Round 2 is half as fast for everyone: per-round ratios stay 0.9.
    const run = results(
      { express5: [[1000, 1000], [500, 500], [1000, 1000]], fast: [[900, 1000], [450, 500], [880, 1000]] },
      [
        { name: 'express5', title: 'bare Express 5', group: 'baseline' },
        { name: 'fast', title: 'fast', group: 'keel', target: 0.97 },
      ],
    );
    const row = summarize(run).fast!.trivial!;
    expect(row.ratio).toBeCloseTo(0.9);
    expect(row.ratioMin).toBeCloseTo(0.88);
    expect(row.rps).toBe(880);
    expect(row.cpuRatio).toBeCloseTo(0.9);
    expect(verdicts(run)).toEqual([expect.objectContaining({ variant: 'fast', claim: 'fast >= 0.97x', met: false })]);
  });

  it('reports a target not met and an unavailable variant as such', () => {
    const run = results({ express5: [[1000, 1000]], a: [[990, 1000]], b: [[800, 1000]] }, [
      { name: 'express5', title: 'bare Express 5', group: 'baseline' },
      { name: 'a', title: 'A', group: 'keel', target: 0.97, fasterThan: ['b', 'gone'] },
      { name: 'b', title: 'B', group: 'comparator' },
      { name: 'gone', title: 'Gone', group: 'keel', target: 0.97, status: 'unavailable', reason: '@keel/gone is not built' },
    ]);
    const checks = verdicts(run);
    expect(checks.map((c) => [c.claim, c.met])).toEqual([
      ['A >= 0.97x', true],
      ['A faster than B', true],
      ['A faster than Gone', null],
      ['Gone >= 0.97x', null],
    ]);
    const text = markdown(run);
    expect(text).toContain('| A | 990 | 0.990x | 5 | 9 | n/a | 1010.1 | 0.990x | >= 0.97x: met |');
    expect(text).toContain('| bare Express 5 (A/A: the noise floor) | 1,000 | 1.000x |');
    expect(text).toContain('| Gone | unavailable |');
    expect(text).toContain('- Gone (`gone`): @keel/gone is not built');
    expect(text).toContain('| variant (Node 20) | req/s |');
  });
});

describe('bench report against hand-written floors', () => {
  it('judges a variant with a floor by the ratio of its ratio to the floor\'s, and checks p99 and RSS limits against bare Express 5', () => {
    const run = results(
      { express5: [[1000, 1000], [1000, 1000], [1000, 1000]], floor: [[900, 1000], [900, 1000], [900, 1000]], keel: [[880, 1000], [880, 1000], [880, 1000]] },
      [
        { name: 'express5', title: 'bare Express 5', group: 'baseline' },
        { name: 'floor', title: 'the floor', group: 'floor' },
        { name: 'keel', title: 'keel', group: 'keel', floor: 'floor', target: 0.97, limits: { p99: 1.5 } },
      ],
    );
    const checks = verdicts(run as never);
    const floorCheck = checks.find((check) => check.variant === 'keel' && check.kind === 'floor')!;
    expect(floorCheck.value).toBeCloseTo(0.88 / 0.9);
    expect(floorCheck.met).toBe(true);
    expect(checks.find((check) => check.variant === 'keel' && check.kind === 'p99')).toMatchObject({ value: 1, met: true });
    expect(markdown(run as never)).toContain('of floor');
  });
});
