import { describe, expect, it } from 'vitest';
import { choiceNoise, exponentialFromBits, gumbelFromBits, philox4x32, randomStream, RNG_PURPOSE, sampleNoise, streamBlock, uniformFromBits } from '../src/node.js';
import { getEngine } from './helpers/engine.js';

describe('Philox4x32-10 (TypeScript mirror)', () => {
  it('gives the Random123 known-answer vectors', () => {
    const hex = (w: number[]) => w.map((x) => x.toString(16).padStart(8, '0'));
    expect(hex(philox4x32(0, 0, 0, 0, 0, 0))).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
    const m = 0xffffffff;
    expect(hex(philox4x32(m, m, m, m, m, m))).toEqual(['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
    expect(hex(philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0))).toEqual([
      'd16cfe09',
      '94fdcceb',
      '5001e420',
      '24126ea1',
    ]);
  });

  it('makes uniforms strictly inside (0, 1), exact in float32 and symmetric', () => {
    expect(uniformFromBits(0)).toBe(2 ** -24);
    expect(uniformFromBits(0xffffffff)).toBe(1 - 2 ** -24);
    expect(Math.fround(uniformFromBits(0x12345678))).toBe(uniformFromBits(0x12345678));
    expect(uniformFromBits(0) + uniformFromBits(0xffffffff)).toBe(1);
    expect(Number.isFinite(gumbelFromBits(0)) && Number.isFinite(gumbelFromBits(0xffffffff))).toBe(true);
  });

  it('computes -log(u) to float32 precision over the whole range, the ends included', () => {
    let worst = 0;
    for (let k = 0; k < 1 << 23; k += k < 4096 || k > (1 << 23) - 4096 ? 1 : 977) {
      const bits = k << 9;
      const exact = -Math.log(uniformFromBits(bits));
      worst = Math.max(worst, Math.abs(exponentialFromBits(bits) - exact) / exact);
    }
    expect(worst).toBeLessThan(4 * 2 ** -24); // a few float32 roundings
  });
});

describe('Philox on the GPU equals the TypeScript mirror', () => {
  const seeds = [0, 1, 42, 0xdeadbeef];
  const positions = 257;
  const length = 1027; // not a multiple of 4: the last block is partial
  const step = 5;

  it(`raw bits, bit for bit (${seeds.length} seeds x ${positions} positions x ${length} entries)`, async () => {
    const engine = await getEngine();
    const s = engine.tensor(Uint32Array.from(seeds), [seeds.length], 'u32');
    for (const purpose of [RNG_PURPOSE.SAMPLE_NOISE, RNG_PURPOSE.CHOICE_NOISE, 7]) {
      const bits = await randomStream(s, 'bits', { purpose, step, positions, length }).read();
      let mismatches = 0;
      for (let r = 0; r < seeds.length; r++) {
        for (let p = 0; p < positions; p++) {
          for (let q = 0; q * 4 < length; q++) {
            const block = streamBlock(seeds[r]!, purpose, q, p, step);
            for (let w = 0; w < 4 && q * 4 + w < length; w++) {
              if (bits[(r * positions + p) * length + q * 4 + w] !== block[w]) mismatches++;
            }
          }
        }
      }
      expect(mismatches, `purpose ${purpose}`).toBe(0);
    }
  });

  it('uniforms bit for bit, Gumbel noise to a few float32 ulps', async () => {
    const engine = await getEngine();
    const s = engine.tensor(Uint32Array.from(seeds), [seeds.length], 'u32');
    const opts = { purpose: RNG_PURPOSE.SAMPLE_NOISE, step, positions, length };
    const u = await randomStream(s, 'uniform', opts).read();
    const g = await randomStream(s, 'gumbel', opts).read();
    let uniformMismatches = 0;
    let worst = 0;
    for (let r = 0; r < seeds.length; r++) {
      for (let p = 0; p < positions; p++) {
        for (let v = 0; v < length; v++) {
          const k = (r * positions + p) * length + v;
          const bits = streamBlock(seeds[r]!, opts.purpose, v >> 2, p, step)[v & 3]!;
          if (u[k] !== uniformFromBits(bits)) uniformMismatches++;
          const expected = sampleNoise(seeds[r]!, step, p, v);
          worst = Math.max(worst, Math.abs(g[k]! - expected) / Math.max(1, Math.abs(expected)));
        }
      }
    }
    expect(uniformMismatches).toBe(0);
    // Bits and uniforms are exact; the logs are the adapter's: WGSL bounds log's error by
    // 2^-21 (4.8e-7) absolute on [0.5, 2] and 3 ulp elsewhere (the series near u = 1 is
    // plain arithmetic, within an ulp or two). Bound: 2e-6 of max(1, |G|) (lavapipe measured 3.0e-7).
    expect(worst).toBeLessThan(2e-6);
    // The confidence stream (purpose 1) of the decode loop takes word 0 of block (0, p, step).
    const c = await randomStream(s, 'gumbel', { purpose: RNG_PURPOSE.CHOICE_NOISE, step, positions, length: 1 }).read();
    for (let p = 0; p < positions; p++) expect(Math.abs(c[p]! - choiceNoise(seeds[0]!, step, p))).toBeLessThan(2e-6 * Math.max(1, Math.abs(c[p]!)));
  });

  it('has sane uniform and Gumbel statistics (1M draws)', async () => {
    const engine = await getEngine();
    const s = engine.tensor(Uint32Array.from([2024, 2025, 2026, 2027]), [4], 'u32');
    const n = 4 * 256 * 1024;
    const opts = { purpose: 3, step: 0, positions: 256, length: 1024 };
    const u = await randomStream(s, 'uniform', opts).read();
    const g = await randomStream(s, 'gumbel', opts).read();
    // Uniform: mean 1/2 (sd 1/sqrt(12 n)), variance 1/12, and a 64-bin chi-square.
    let mean = 0;
    let sq = 0;
    const bins = new Float64Array(64);
    for (const x of u) {
      mean += x;
      sq += x * x;
      bins[Math.floor(x * 64)]!++;
    }
    mean /= n;
    const variance = sq / n - mean * mean;
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 / Math.sqrt(12 * n));
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(1e-3);
    let chi2 = 0;
    for (const b of bins) chi2 += (b - n / 64) ** 2 / (n / 64);
    expect(chi2).toBeLessThan(103.4); // chi-square, 63 dof, p = 0.001
    // Gumbel(0, 1): mean = Euler's gamma, variance pi^2 / 6; P(G <= 0) = 1/e.
    let gm = 0;
    let gs = 0;
    let below = 0;
    for (const x of g) {
      gm += x;
      gs += x * x;
      if (x <= 0) below++;
    }
    gm /= n;
    const gv = gs / n - gm * gm;
    expect(Math.abs(gm - 0.5772156649)).toBeLessThan(5 * Math.sqrt(Math.PI ** 2 / 6 / n));
    expect(Math.abs(gv - Math.PI ** 2 / 6)).toBeLessThan(0.02);
    expect(Math.abs(below / n - 1 / Math.E)).toBeLessThan(5 * Math.sqrt((1 / Math.E) * (1 - 1 / Math.E) / n));
  });

  it('keys streams by seed, step, position and purpose', () => {
    const base = streamBlock(7, 0, 0, 3, 2)[0];
    expect(streamBlock(8, 0, 0, 3, 2)[0]).not.toBe(base);
    expect(streamBlock(7, 1, 0, 3, 2)[0]).not.toBe(base);
    expect(streamBlock(7, 0, 1, 3, 2)[0]).not.toBe(base);
    expect(streamBlock(7, 0, 0, 4, 2)[0]).not.toBe(base);
    expect(streamBlock(7, 0, 0, 3, 3)[0]).not.toBe(base);
  });
});
