// The benchmarks' one timing discipline (src/timing.ts): warm-up, then alternating single runs
// in ABBA order, medians and spread; the uncached baseline's quadratic extrapolation
// (src/maskgit/benchmark.ts); and benchmarkDecode's record on a tiny real MaskGIT: every way
// warmed (no pipeline compiled while timed), repeated, the extrapolated mode said so.
import { describe, expect, it } from 'vitest';
import { ArgumentError, benchmarkDecode, fitQuadratic, fittedQuadraticSum } from '../src/node.js';
import { ratioSpread, timeAlternating } from '../src/timing.js';
import { getEngine } from './helpers/engine.js';
import { tinyConfig, tinyModel } from './helpers/tiny-maskgit.js';

describe('timeAlternating', () => {
  it('warms up, then runs each runner once a round, reversing the order every other round', async () => {
    const calls: string[] = [];
    const runner = (name: string) => async () => void calls.push(name);
    let warmedAt = -1;
    const timings = await timeAlternating([runner('A'), runner('B'), runner('C')], { runs: 3, warmup: 2, afterWarmup: () => void (warmedAt = calls.length) });
    expect(calls.join('')).toBe('ABC' + 'CBA' + 'ABC' + 'CBA' + 'ABC');
    expect(warmedAt).toBe(6);
    expect(timings.map((t) => [t.times.length, t.warmup])).toEqual([
      [3, 2],
      [3, 2],
      [3, 2],
    ]);
  });

  it('always warms up at least once, and reports the median and the spread of the timed runs', async () => {
    const delays = [50, 1, 30, 10]; // the first (warm-up) run is the slow one, as a compile is
    let call = 0;
    const [t] = await timeAlternating([() => new Promise((resolve) => setTimeout(resolve, delays[call++]))], { runs: 3, warmup: 0 });
    expect(call).toBe(4);
    expect(t!.warmup).toBe(1);
    expect(t!.times).toHaveLength(3);
    expect(t!.minMs).toBeLessThanOrEqual(t!.ms);
    expect(t!.ms).toBeLessThanOrEqual(t!.maxMs);
    // setTimeout waits at least its delay: the slowest timed run is the 30 ms one, not the warm-up.
    expect(t!.maxMs).toBeGreaterThanOrEqual(29);
  });

  it('ratioSpread pairs the runs of the same round', () => {
    const base = { cpuMs: null, warmup: 1 };
    const ours = { ...base, ms: 2, minMs: 1, maxMs: 4, times: [1, 2, 4] };
    const peer = { ...base, ms: 8, minMs: 3, maxMs: 8, times: [3, 8, 8] };
    expect(ratioSpread(peer, ours)).toEqual({ median: 3, min: 2, max: 4 });
    expect(() => ratioSpread(peer, { ...ours, times: [1, 2] })).toThrow(/different rounds/);
  });
});

describe('the uncached baseline extrapolation', () => {
  it('fits a quadratic exactly and sums it over every length', () => {
    const cost = (l: number) => 3 + 0.5 * l + 0.002 * l * l;
    const points = [1, 64, 128, 193, 257].map((l) => [l, cost(l)] as const);
    const fit = fitQuadratic(points);
    expect(fit.a).toBeCloseTo(3, 6);
    expect(fit.b).toBeCloseTo(0.5, 8);
    expect(fit.c).toBeCloseTo(0.002, 10);
    expect(fit.maxResidual).toBeLessThan(1e-6);
    let sum = 0;
    for (let l = 1; l <= 257; l++) sum += cost(l);
    expect(fittedQuadraticSum(points, 257)).toBeCloseTo(sum, 4);
  });

  it('recovers the sum of a convex cost from noisy points within the noise', () => {
    // Noisy points of a convex cost: the fit's sum stays within 2% of the true sum.
    const cost = (l: number) => 10 + 0.2 * l + 0.01 * l * l;
    const noise = [1.01, 0.99, 1.02, 0.98, 1.0];
    const points = [1, 64, 128, 193, 257].map((l, i) => [l, cost(l) * noise[i]!] as const);
    let sum = 0;
    for (let l = 1; l <= 257; l++) sum += cost(l);
    expect(Math.abs(fittedQuadraticSum(points, 257) / sum - 1)).toBeLessThan(0.02);
  });

  it('refuses fewer than 3 distinct lengths', () => {
    expect(() => fitQuadratic([[1, 1], [2, 2], [2, 3]])).toThrow(ArgumentError);
  });
});

describe('benchmarkDecode on a tiny real MaskGIT', () => {
  const config = tinyConfig();
  const decodeConfig = { ...config, transformer: config.transformer };

  it('full: every way warmed and repeated in alternating rounds; spreads and ratios per round', async () => {
    const engine = await getEngine();
    const model = tinyModel(engine, config);
    const phases: string[] = [];
    const r = await benchmarkDecode(model.weights, decodeConfig, { name: 'tiny', steps: [4, 6], runs: 2, warmup: 1, onPhase: (p) => phases.push(p) });
    model.dispose();
    expect(r).toMatchObject({ extrapolated: false, runs: 2, warmup: 1, pipelines_compiled_while_timed: 0 });
    // 4 ways (MaskGIT at 2 step counts, cached, uncached) x 3 rounds, the first round a warm-up.
    expect(phases).toHaveLength(12);
    expect(phases.slice(0, 4).every((p) => p.startsWith('warm-up 1/1: '))).toBe(true);
    expect(phases.filter((p) => p === 'run 2/2: autoregressive, uncached')).toHaveLength(1);
    for (const key of ['maskgit_ms', 'ar_ms', 'ar_kv_ms'] as const) {
      const s = r.spread[key]!;
      expect(s.min, key).toBeLessThanOrEqual(s.median);
      expect(s.median, key).toBeLessThanOrEqual(s.max);
      expect(s.median, key).toBe(r[key]);
    }
    expect(r.spread.ratio!.min).toBeLessThanOrEqual(r.ratio!);
    expect(r.spread.ratio!.max).toBeGreaterThanOrEqual(r.ratio!);
  });

  it('extrapolate: the forward timed at several prefix lengths, fitted, and the record says it is extrapolated', async () => {
    const engine = await getEngine();
    const model = tinyModel(engine, config);
    const r = await benchmarkDecode(model.weights, decodeConfig, { name: 'tiny', steps: [8], runs: 1, mode: 'extrapolate' });
    model.dispose();
    expect(r.extrapolated).toMatch(/^MaskGIT: the last 2 of 8 steps timed and scaled; .*least-squares quadratic/);
    expect(Object.keys(r.ar_step_ms_at_length!)).toEqual(['1', '16', '32', '48', '64']);
    expect(r.ar_step_fit).toBeDefined();
    expect(r.pipelines_compiled_while_timed).toBe(0);
    expect(r.ar_ms).toBeGreaterThan(0);
  });
});
