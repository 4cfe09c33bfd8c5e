import { describe, expect, it } from 'vitest';
import { ArgumentError, maskCounts, maskLength, maskRatio, scheduleCuts, stepRatio, type MaskSchedule } from '../src/node.js';

describe('mask schedules: the worked check of REFERENCE.md (cosine, float32)', () => {
  const worked: [number, number, number[]][] = [
    [256, 8, [251, 236, 212, 181, 142, 97, 49]],
    [256, 12, [253, 247, 236, 221, 203, 181, 155, 127, 97, 66, 33]],
    [256, 16, [254, 251, 244, 236, 225, 212, 197, 181, 162, 142, 120, 97, 74, 49, 25]],
    [1024, 12, [1015, 989, 946, 886, 812, 724, 623, 511, 391, 265, 133]],
    [16, 12, [15, 14, 13, 12, 11, 10, 9, 7, 6, 4, 2]],
  ];
  for (const [n, t, expected] of worked) {
    it(`N=${n}, T=${t}`, () => {
      expect(maskCounts('cosine', n, t)).toEqual(expected);
    });
  }

  it('rounds like float32: cos(pi/3) is 0.49999997, so 127 (not 128) and 511 (not 512)', () => {
    expect(maskRatio('cosine', stepRatio(7, 12), 256)).toBe(Math.fround(0.49999997));
    expect(scheduleCuts('cosine', 256, 12)[7]).toBe(127);
    expect(scheduleCuts('cosine', 1024, 12)[7]).toBe(511);
    // float64 arithmetic would give the round numbers.
    expect(Math.floor(256 * Math.cos((Math.PI / 2) * (8 / 12)))).toBe(128);
  });

  it('starts counting from startStep with N0 = the unknown count at the start', () => {
    // Editing: 2 of 12, N0 = 100: ratio (t + 1) / 12 for t = 2..10.
    const cuts = scheduleCuts('cosine', 100, 12);
    const counts = maskCounts('cosine', 100, 12, 2);
    expect(counts.length).toBe(9);
    expect(counts[0]).toBe(Math.max(1, Math.min(99, cuts[2]!)));
  });
});

describe('mask schedules: the other formulas', () => {
  const f = Math.fround;
  const cases: [MaskSchedule, (r: number, n: number) => number][] = [
    ['linear', (r) => 1 - r],
    ['uniform', (r) => 1 - r],
    ['square', (r) => 1 - r ** 2],
    ['pow2', (r) => 1 - r ** 2],
    ['cubic', (r) => 1 - r ** 3],
    ['pow3', (r) => 1 - r ** 3],
    ['sqrt', (r) => 1 - Math.sqrt(r)],
    ['pow0.5', (r) => 1 - Math.sqrt(r)],
    ['pow2.5', (r) => 1 - r ** 2.5],
    ['cosine', (r) => Math.cos((Math.PI / 2) * r)],
    ['log', (r, n) => -Math.log2(r) / Math.log2(n)],
    ['exp', (r, n) => 1 - n ** -(1 - r)],
  ];
  for (const [name, formula] of cases) {
    it(`${name}: gamma(r) to float32 precision, clipped to [1e-6, 1]`, () => {
      for (const n of [16, 256, 1024]) {
        for (let t = 0; t < 16; t++) {
          const r = stepRatio(t, 16);
          const expected = Math.min(Math.max(formula(r, n), 1e-6), 1);
          // Float32 at each of a few operations: a few ulps of 1.
          expect(Math.abs(maskRatio(name, r, n) - expected), `${name} r=${r} n=${n}`).toBeLessThan(4e-7);
          expect(maskRatio(name, r, n)).toBe(f(maskRatio(name, r, n)));
        }
      }
    });
  }

  it('the names agree: uniform = linear, square = pow2, cubic = pow3, sqrt = pow0.5', () => {
    for (const [a, b] of [['uniform', 'linear'], ['square', 'pow2'], ['cubic', 'pow3'], ['sqrt', 'pow0.5']] as const) {
      expect(maskCounts(a, 256, 12)).toEqual(maskCounts(b, 256, 12));
    }
  });

  it('counts for N=256, T=8 under every schedule', () => {
    expect(maskCounts('linear', 256, 8)).toEqual([224, 192, 160, 128, 96, 64, 32]);
    expect(maskCounts('square', 256, 8)).toEqual([252, 240, 220, 192, 156, 112, 60]);
    expect(maskCounts('cubic', 256, 8)).toEqual([255, 252, 242, 224, 193, 148, 84]);
    expect(maskCounts('sqrt', 256, 8)).toEqual([165, 128, 99, 74, 53, 34, 16]);
    expect(maskCounts('log', 256, 8)).toEqual([96, 64, 45, 32, 21, 13, 6]); // -log2(1/8) / 8 = 3/8 of 256
    expect(maskCounts('exp', 256, 8)).toEqual([254, 252, 248, 240, 224, 192, 128]); // 1 - 256^-(7/8) ...
  });

  it('the last ratio (1) clips to 1e-6 (cos(pi/2) is -4.4e-8 in float32)', () => {
    expect(maskRatio('cosine', 1, 256)).toBe(Math.fround(1e-6));
    expect(maskRatio('linear', 1, 256)).toBe(Math.fround(1e-6));
    expect(maskRatio('log', 1 / 2 ** 20, 16)).toBe(1); // 5 > 1 clips to 1
  });
});

describe('mask_len clamping at the edges', () => {
  it('max(1, min(unknown - 1, cut))', () => {
    expect(maskLength(5, 10)).toBe(4); // at least one token revealed per step
    expect(maskLength(5, 0)).toBe(1); // at least one token stays masked until the last step
    expect(maskLength(1, 3)).toBe(1);
    expect(maskLength(0, 3)).toBe(1);
  });

  it('N0 = 1 and 2 keep one token masked until the last step; N0 = 0 masks nothing; T = 1 has no cut', () => {
    expect(maskCounts('cosine', 1, 8)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(maskCounts('cosine', 2, 8)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(maskCounts('cosine', 0, 8)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(maskCounts('cosine', 256, 1)).toEqual([]);
    expect(maskCounts('cosine', 256, 2)).toEqual([181]); // floor(256 * cos(pi/4)), then the last step fills all
    expect(scheduleCuts('cosine', 256, 2)).toEqual([181, 0]);
  });

  it('rejects unknown schedules and bad step counts', () => {
    expect(() => maskCounts('quadratic' as MaskSchedule, 256, 8)).toThrow(ArgumentError);
    expect(() => maskCounts('pow-1' as MaskSchedule, 256, 8)).toThrow(ArgumentError);
    expect(() => maskCounts('cosine', 256, 0)).toThrow(ArgumentError);
    expect(() => maskCounts('cosine', 256, 8, 8)).toThrow(ArgumentError);
  });
});
