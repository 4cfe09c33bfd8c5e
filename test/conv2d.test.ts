import type * as tfc from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createEngine, ops, ShapeError, type Engine } from '../src/node.js';

type ConvTile = ops.ConvTile;
import { expectClose, maxAbsError } from './helpers/compare.js';
import { getEngine } from './helpers/engine.js';
import { oracle } from './helpers/oracle.js';
import { uniform } from './helpers/random.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

type Tf = typeof tfc;

interface Case {
  shape: [number, number, number, number]; // B, H, W, Cin
  k: 1 | 3;
  cout: number;
  bias?: boolean;
  residual?: boolean;
  upsample?: boolean;
  clamp?: [number, number];
}

const CASES: Case[] = [
  { shape: [2, 7, 5, 3], k: 3, cout: 32, bias: true },
  { shape: [1, 7, 5, 32], k: 3, cout: 96 },
  { shape: [2, 5, 7, 96], k: 3, cout: 32, residual: true },
  { shape: [1, 1, 1, 4], k: 3, cout: 3, bias: true },
  { shape: [1, 17, 3, 8], k: 3, cout: 12, bias: true, residual: true },
  { shape: [3, 4, 9, 32], k: 3, cout: 3, bias: true, clamp: [0, 1] },
  { shape: [2, 7, 5, 32], k: 1, cout: 96, bias: true },
  { shape: [1, 5, 7, 96], k: 1, cout: 32, residual: true },
  { shape: [2, 3, 1, 3], k: 1, cout: 5 },
  { shape: [2, 4, 3, 32], k: 3, cout: 32, upsample: true, bias: true },
  { shape: [1, 3, 5, 12], k: 3, cout: 20, upsample: true, residual: true },
  { shape: [1, 33, 40, 16], k: 3, cout: 40, bias: true },
  // Channel counts whose texel rows are 256-byte aligned: the subgroup path reads x and w through textures.
  { shape: [2, 7, 5, 64], k: 3, cout: 64, bias: true, residual: true },
  { shape: [1, 5, 9, 128], k: 1, cout: 64, residual: true },
  { shape: [2, 4, 3, 64], k: 3, cout: 128, upsample: true, bias: true, clamp: [-0.5, 0.5] },
  { shape: [1, 3, 17, 128], k: 3, cout: 128 },
];

const describeCase = (c: Case) =>
  `${c.k}x${c.k} [${c.shape}] -> ${c.cout}${c.bias ? ' +bias' : ''}${c.residual ? ' +residual' : ''}${c.upsample ? ' upsample' : ''}${c.clamp ? ' clamp' : ''}`;

/** tfjs-core CPU: the same op composed from conv2d, resizeNearestNeighbor, add and clipByValue. */
function reference(tf: Tf, c: Case, x: Float32Array, w: Float32Array, bias: Float32Array | null, res: Float32Array | null): { values: Float32Array; shape: number[] } {
  return tf.tidy(() => {
    let input = tf.tensor4d(x, c.shape);
    if (c.upsample) input = tf.image.resizeNearestNeighbor(input, [2 * c.shape[1], 2 * c.shape[2]]);
    let y: tfc.Tensor = tf.conv2d(input, tf.tensor4d(w, [c.k, c.k, c.shape[3], c.cout]), 1, 'same');
    if (bias) y = tf.add(y, tf.tensor1d(bias));
    if (res) y = tf.add(y, tf.tensor(res, y.shape));
    if (c.clamp) y = tf.clipByValue(y, c.clamp[0], c.clamp[1]);
    return { values: y.dataSync() as Float32Array, shape: y.shape };
  });
}

/** Runs one case on `engine` in `dtype` (inputs rounded to that storage first) and checks it against the oracle. */
async function check(engine: Engine, c: Case, dtype: 'f32' | 'f16', tile?: ConvTile): Promise<number> {
  const tf = await oracle();
  const [B, H, W, cin] = c.shape;
  const up = c.upsample ? 2 : 1;
  const outSize = B * H * up * W * up * c.cout;
  const seed = c.shape.reduce((a, b) => a * 31 + b, c.cout);
  const x = engine.tensor(uniform(B * H * W * cin, seed), c.shape, dtype);
  const w = engine.tensor(uniform(c.k * c.k * cin * c.cout, seed + 1, -0.5, 0.5), [c.k, c.k, cin, c.cout], dtype);
  const bias = c.bias ? engine.tensor(uniform(c.cout, seed + 2), [c.cout], dtype) : undefined;
  const residual = c.residual ? engine.tensor(uniform(outSize, seed + 3), [B, H * up, W * up, c.cout], dtype) : undefined;
  const options = { ...(bias && { bias }), ...(residual && { residual }), ...(c.upsample && { upsample: true }), ...(c.clamp && { clamp: c.clamp }) };
  const out = ops.conv2d(x, w, options, tile);
  // The oracle sees exactly the values we stored (f16 inputs are already rounded).
  const ref = reference(tf, c, await x.read(), await w.read(), bias ? await bias.read() : null, residual ? await residual.read() : null);
  expect(out.shape).toEqual(ref.shape);
  const got = await out.read();
  const terms = c.k * c.k * cin;
  if (dtype === 'f32') {
    // f32 accumulation in another order: rounding grows with the reduction length.
    expectClose(got, ref.values, { atol: 2e-7 * terms + 1e-6, rtol: 1e-5 }, describeCase(c));
  } else {
    // f16 storage of the output: half an ulp is 2^-11 relative (4.9e-4); accumulation is f32.
    expectClose(got, ref.values, { atol: 1e-3, rtol: 1e-3 }, `${describeCase(c)} f16`);
  }
  const error = maxAbsError(got, ref.values).error;
  for (const t of [x, w, bias, residual, out]) t?.dispose();
  return error;
}

describe('conv2d (oracle: tfjs-core CPU conv2d)', () => {
  for (const c of CASES) {
    it(`${describeCase(c)} f32`, { timeout: HANG_GUARD_MS }, async () => {
      await check(await getEngine(), c, 'f32');
    });
  }

  it('every register tiling of the subgroup path agrees with the oracle', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const sg = ops.fixedSubgroupSize(engine);
    if (sg === 0) return; // no fixed subgroup size here: the portable test below covers this adapter
    const c: Case = { shape: [2, 7, 11, 16], k: 3, cout: 24, bias: true, residual: true };
    for (const [pix, wpl] of [[1, 1], [3, 2], [2, 4]] as const) await check(engine, c, 'f32', { tx: sg, pix, sg, wpl, nv: 0 });
  });

  it('f16 storage (f32 accumulation) agrees with the oracle on f16-rounded inputs', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    if (!engine.hasF16) return;
    for (const c of [CASES[0]!, CASES[2]!, CASES[5]!, CASES[9]!, CASES[7]!, CASES[13]!, CASES[15]!]) await check(engine, c, 'f16');
  });

  it('the portable path (no subgroups) agrees with the oracle', { timeout: HANG_GUARD_MS }, async () => {
    const portable = await createEngine({ disableFeatures: ['subgroups'] });
    expect(portable.hasSubgroups).toBe(false);
    for (const c of [CASES[0]!, CASES[2]!, CASES[4]!, CASES[8]!, CASES[9]!]) await check(portable, c, 'f32');
    await check(portable, CASES[4]!, 'f32', { tx: 8, pix: 3, sg: 0, wpl: 1, nv: 3 });
    if (portable.hasF16) await check(portable, CASES[2]!, 'f16');
    portable.destroy();
  });

  it('rejects mismatched shapes with a ShapeError', async () => {
    const engine = await getEngine();
    const x = engine.tensor(new Float32Array(2 * 3 * 3 * 4), [2, 3, 3, 4]);
    const w = engine.tensor(new Float32Array(9 * 5 * 8), [3, 3, 5, 8]);
    expect(() => ops.conv2d(x, w)).toThrow(ShapeError);
    expect(() => ops.conv2d(x, w)).toThrow(/input channels/);
    const w5 = engine.tensor(new Float32Array(25 * 4), [5, 5, 4, 1]);
    expect(() => ops.conv2d(x, w5)).toThrow(/1x1 or 3x3/);
    const w3 = engine.tensor(new Float32Array(9 * 4 * 8), [3, 3, 4, 8]);
    expect(() => ops.conv2d(x, w3, { bias: engine.tensor(new Float32Array(7), [7]) })).toThrow(/bias must be \[8\]/);
    const res = engine.tensor(new Float32Array(2 * 3 * 3 * 8), [2, 3, 3, 8]);
    expect(() => ops.conv2d(x, w3, { residual: res, upsample: true })).toThrow(/residual must be shaped/);
  });
});
