// GroupNorm, resampling and vector quantization against the tfjs-core CPU oracle.
import { describe, expect, it } from 'vitest';
import { createEngine, ops, ShapeError, type Engine } from '../src/node.js';
import { expectClose } from './helpers/compare.js';
import { getEngine } from './helpers/engine.js';
import { oracle } from './helpers/oracle.js';
import { normal, randomInts, uniform } from './helpers/random.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';
import { workgroupLayout } from '../src/tensor/ops/layout.js';


/** tfjs-core CPU GroupNorm built from moments: x [B, H, W, C] -> normalised, affine, optional swish. */
async function groupNormReference(x: Float32Array, shape: number[], groups: number, scale: Float32Array, bias: Float32Array, eps: number, swish: boolean): Promise<Float32Array> {
  const tf = await oracle();
  return tf.tidy(() => {
    const [B, H, W, C] = shape as [number, number, number, number];
    const grouped = tf.tensor(x, [B, H, W, groups, C / groups]);
    const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
    const normed = tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, eps))), shape);
    let y = tf.add(tf.mul(normed, tf.tensor1d(scale)), tf.tensor1d(bias));
    if (swish) y = tf.mul(y, tf.sigmoid(y));
    return y.dataSync() as Float32Array;
  });
}

async function checkGroupNorm(engine: Engine, shape: number[], groups: number, swish: boolean, dtype: 'f32' | 'f16', offset = 0): Promise<void> {
  const n = shape.reduce((a, b) => a * b, 1);
  const C = shape[3]!;
  const seed = n + C + groups;
  const xv = uniform(n, seed, -2, 2).map((v) => v + offset);
  const x = engine.tensor(xv, shape, dtype);
  const scale = engine.tensor(uniform(C, seed + 1, 0.5, 1.5), [C], dtype);
  const bias = engine.tensor(uniform(C, seed + 2, -0.5, 0.5), [C], dtype);
  const y = ops.groupNorm(x, scale, bias, { groups, eps: 1e-6, swish });
  expect(y.shape).toEqual(shape);
  const ref = await groupNormReference(await x.read(), shape, groups, await scale.read(), await bias.read(), 1e-6, swish);
  // f32: outputs are O(1); statistics over up to 1e4 values in another order differ by ~1e-6
  // relative. With an offset of 100 next to a spread of 2 the oracle's own f32 mean carries
  // ~1e-5 of the offset, so the bound grows with it. f16: half an ulp of the output (2^-11).
  const tol = dtype === 'f32' ? { atol: 2e-5 + 2e-6 * offset, rtol: 1e-5 } : { atol: 4e-3, rtol: 2e-3 };
  expectClose(await y.read(), ref, tol, `groupNorm [${shape}] groups ${groups}${swish ? ' swish' : ''} ${dtype}${offset ? ` offset ${offset}` : ''}`);
  for (const t of [x, scale, bias, y]) t.dispose();
}

describe('groupNorm (oracle: tfjs-core moments)', () => {
  const cases: [number[], number, boolean][] = [
    [[2, 7, 5, 32], 32, true],
    [[1, 7, 5, 96], 32, false],
    [[3, 5, 7, 96], 8, true],
    [[1, 1, 1, 64], 32, true],
    [[2, 17, 31, 128], 32, true],
    [[1, 3, 5, 6], 2, false],
    [[1, 64, 70, 32], 4, true],
  ];
  for (const [shape, groups, swish] of cases) {
    it(`[${shape}] ${groups} groups${swish ? ' + swish' : ''}, both workgroup layouts`, { timeout: HANG_GUARD_MS }, async () => {
      // Many small chunks (GPUs) and few large ones (CPU adapters), whatever this adapter is.
      for (const layout of ['gpu', 'cpu'] as const) {
        workgroupLayout.mode = layout;
        try {
          await checkGroupNorm(await getEngine(), shape, groups, swish, 'f32');
        } finally {
          workgroupLayout.mode = 'auto';
        }
      }
    });
  }

  it('normalises image i of a batch exactly as it does the image alone, in both workgroup layouts', { timeout: HANG_GUARD_MS }, async () => {
    // Generation promises that image i of a batch equals a single-image run bit for bit, so the
    // way an image's pixels are split into chunks must not depend on the batch.
    const engine = await getEngine();
    const [B, H, W, C] = [3, 24, 20, 32];
    const xv = uniform(B * H * W * C, 77, -2, 2);
    const scale = engine.tensor(uniform(C, 78, 0.5, 1.5), [C]);
    const bias = engine.tensor(uniform(C, 79, -0.5, 0.5), [C]);
    for (const layout of ['gpu', 'cpu'] as const) {
      workgroupLayout.mode = layout;
      try {
        const batch = await ops.groupNorm(engine.tensor(xv, [B, H, W, C]), scale, bias, { groups: 8, eps: 1e-6, swish: true }).read();
        const per = H * W * C;
        for (let b = 0; b < B; b++) {
          const alone = await ops.groupNorm(engine.tensor(xv.subarray(b * per, (b + 1) * per), [1, H, W, C]), scale, bias, { groups: 8, eps: 1e-6, swish: true }).read();
          expect([...alone], `${layout} layout, image ${b}`).toEqual([...batch.subarray(b * per, (b + 1) * per)]);
        }
      } finally {
        workgroupLayout.mode = 'auto';
      }
    }
  });

  it('keeps its precision when the mean is far from zero (shifted sums)', { timeout: HANG_GUARD_MS }, async () => {
    await checkGroupNorm(await getEngine(), [2, 9, 11, 32], 8, false, 'f32', 100);
  });

  it('f16 storage', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    if (!engine.hasF16) return;
    await checkGroupNorm(engine, [2, 7, 5, 96], 32, true, 'f16');
  });

  it('rejects groups that do not divide the channels', async () => {
    const engine = await getEngine();
    const x = engine.tensor(new Float32Array(2 * 2 * 2 * 6), [2, 2, 2, 6]);
    const s = engine.tensor(new Float32Array(6), [6]);
    expect(() => ops.groupNorm(x, s, s, { groups: 4, eps: 1e-6 })).toThrow(ShapeError);
    expect(() => ops.groupNorm(x, engine.tensor(new Float32Array(5), [5]), s, { groups: 2, eps: 1e-6 })).toThrow(/scale must be \[6\]/);
  });
});

describe('upsampleNearest2x and avgPool2x2 (oracle: tfjs-core resizeNearestNeighbor, avgPool)', () => {
  for (const shape of [[2, 7, 5, 3], [1, 4, 6, 32], [3, 1, 1, 96], [1, 16, 18, 12]]) {
    it(`[${shape}]`, { timeout: HANG_GUARD_MS }, async () => {
      const engine = await getEngine();
      const tf = await oracle();
      const [B, H, W, C] = shape as [number, number, number, number];
      const v = uniform(B * H * W * C, B * H * W * C);
      const x = engine.tensor(v, shape);
      const up = ops.upsampleNearest2x(x);
      expect(up.shape).toEqual([B, 2 * H, 2 * W, C]);
      const tx = tf.tensor4d(v, [B, H, W, C]);
      expectClose(await up.read(), tf.image.resizeNearestNeighbor(tx, [2 * H, 2 * W]).dataSync(), { atol: 0 }, 'upsample'); // a copy: exact
      const pooled = ops.avgPool2x2(up);
      expectClose(await pooled.read(), v, { atol: 1e-7 }, 'avgPool of the upsampled image'); // the mean of four equal values
      if (H % 2 === 0 && W % 2 === 0) {
        // Four f32 values summed in another order, times 0.25: within an ulp or two of O(1) values.
        expectClose(await ops.avgPool2x2(x).read(), tf.avgPool(tx, 2, 2, 'valid').dataSync(), { atol: 1e-6 }, 'avgPool');
      } else {
        expect(() => ops.avgPool2x2(x)).toThrow(/even/);
      }
    });
  }

  it('f16 storage', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    if (!engine.hasF16) return;
    const tf = await oracle();
    const x = engine.tensor(uniform(2 * 6 * 4 * 8, 5), [2, 6, 4, 8], 'f16');
    const v = await x.read();
    const tx = tf.tensor4d(v, [2, 6, 4, 8]);
    expectClose(await ops.upsampleNearest2x(x).read(), tf.image.resizeNearestNeighbor(tx, [12, 8]).dataSync(), { atol: 0 }, 'f16 upsample');
    expectClose(await ops.avgPool2x2(x).read(), tf.avgPool(tx, 2, 2, 'valid').dataSync(), { atol: 1e-3, rtol: 1e-3 }, 'f16 avgPool'); // the f16 result rounding
  });
});

describe('vqNearest and codebookLookup (oracle: tfjs-core matMul + argMin, gather)', () => {
  async function checkNearest(engine: Engine, n: number, k: number, d: number, dtype: 'f32' | 'f16'): Promise<void> {
    const tf = await oracle();
    const codebook = engine.tensor(normal(k * d, k + d), [k, d], dtype);
    // Latents near random codes, plus noise: the nearest code is usually, not always, that one.
    const cb = await codebook.read();
    const picks = randomInts(n, n + 1, 0, k);
    const noise = normal(n * d, n + 2, 0.7);
    const lv = new Float32Array(n * d).map((_, i) => cb[picks[Math.floor(i / d)]! * d + (i % d)]! + noise[i]!);
    const latents = engine.tensor(lv, [n, d], dtype);
    const tokens = ops.vqNearest(latents, codebook);
    expect(tokens.dtype).toBe('i32');
    expect(tokens.shape).toEqual([n]);
    const got = await tokens.read();
    const a = tf.tensor2d(await latents.read(), [n, d]);
    const b = tf.tensor2d(cb, [k, d]);
    const dist = tf.sub(tf.add(tf.sum(tf.square(a), 1, true), tf.sum(tf.square(b), 1)), tf.mul(2, tf.matMul(a, b, false, true)));
    const best = tf.argMin(dist, 1).dataSync();
    const dv = dist.dataSync();
    let same = 0;
    for (let i = 0; i < n; i++) {
      if (got[i] === best[i]) {
        same++;
        continue;
      }
      // Another index is right only at a near tie: both distances equal within f32 rounding
      // of sums over d products (relative 1e-5 of the distance).
      const mine = dv[i * k + got[i]!]!;
      const theirs = dv[i * k + best[i]!]!;
      expect(Math.abs(mine - theirs), `vector ${i}: token ${got[i]} vs ${best[i]}`).toBeLessThanOrEqual(1e-5 * Math.abs(theirs) + 1e-5);
    }
    expect(same).toBeGreaterThanOrEqual(n - 1);
    // Lookup returns the codebook rows exactly.
    const rows = ops.codebookLookup(tokens, codebook);
    expect(rows.shape).toEqual([n, d]);
    expectClose(await rows.read(), tf.gather(b, tf.tensor1d(Array.from(got), 'int32')).dataSync(), { atol: 0 }, 'lookup');
    tf.dispose([a, b, dist]);
  }

  for (const [n, k, d] of [[1, 1, 4], [17, 3, 8], [257, 1024, 256], [35, 100, 6], [3, 1025, 12]] as const) {
    it(`${n} vectors, codebook ${k} x ${d}`, { timeout: HANG_GUARD_MS }, async () => {
      await checkNearest(await getEngine(), n, k, d, 'f32');
    });
  }

  it('f16 storage', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    if (engine.hasF16) await checkNearest(engine, 64, 256, 32, 'f16');
  });

  it('ties go to the lowest index, on the subgroup and the portable path', { timeout: HANG_GUARD_MS }, async () => {
    const portable = await createEngine({ disableFeatures: ['subgroups'] });
    for (const engine of [await getEngine(), portable]) {
      // Rows 3, 70 and 130 are the same vector; the latents equal it (and row 5 is far).
      const k = 200;
      const d = 8;
      const cb = uniform(k * d, 9, 5, 6);
      const target = uniform(d, 10, -1, 1);
      for (const r of [3, 70, 130]) cb.set(target, r * d);
      const latents = engine.tensor(new Float32Array(9 * d).map((_, i) => target[i % d]!), [3, 3, d]);
      const tokens = ops.vqNearest(latents, engine.tensor(cb, [k, d]));
      expect(tokens.shape).toEqual([3, 3]);
      expect([...(await tokens.read())]).toEqual(new Array(9).fill(3));
    }
    await checkNearest(portable, 40, 300, 16, 'f32');
    portable.destroy();
  });

  it('lookup clamps out-of-range ids; shapes are checked', async () => {
    const engine = await getEngine();
    const cb = engine.tensor(uniform(5 * 4, 3), [5, 4]);
    const rows = await ops.codebookLookup(engine.tensor([-3, 0, 4, 9], [2, 2], 'i32'), cb).read();
    const table = await cb.read();
    expect([...rows]).toEqual([...table.slice(0, 4), ...table.slice(0, 4), ...table.slice(16, 20), ...table.slice(16, 20)]);
    expect(() => ops.vqNearest(engine.tensor(new Float32Array(6), [2, 3]), cb)).toThrow(/codebook width 4/);
    expect(() => ops.codebookLookup(engine.tensor([1], [1], 'u32') as never, cb)).toThrow(/i32/);
  });
});
