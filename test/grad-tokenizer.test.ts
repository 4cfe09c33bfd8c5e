// Gradients of the tokenizer's ops (conv2d 3x3/1x1 with bias, residual and upsampling,
// GroupNorm + swish, swish, 2x2 average pooling, nearest x2 upsampling, vector quantization
// with the straight-through estimator and the commitment loss, the reconstruction loss),
// each against central finite differences and against tfjs-core's gradients (tf.grads).
import type * as tfc from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createEngine, grad, ops, parameter, ShapeError, type Engine, type Variable } from '../src/node.js';
import { workgroupLayout } from '../src/tensor/ops/layout.js';
import { matmulView } from '../src/tensor/ops/matmul.js';
import { expectClose } from './helpers/compare.js';
import { getEngine } from './helpers/engine.js';
import { autogradOf, checkAgainstTf, gradCheck, weightedSum } from './helpers/gradcheck.js';
import { oracle } from './helpers/oracle.js';
import { normal, uniform } from './helpers/random.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

type Tf = typeof tfc;
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Nearest x2 upsampling for the oracle, as two gathers (row i of the output reads row i >> 1).
 * Not tf.image.resizeNearestNeighbor: its gradient in tfjs-core's CPU backend (4.22) disagrees
 * with finite differences here, while the forward values agree with ours exactly.
 */
function upsampleByGather(tf: Tf, x: tfc.Tensor): tfc.Tensor4D {
  const [, H, W] = x.shape as [number, number, number, number];
  const twice = (n: number) => tf.tensor1d(Array.from({ length: 2 * n }, (_, i) => i >> 1), 'int32');
  return tf.gather(tf.gather(x, twice(H), 1), twice(W), 2) as tfc.Tensor4D;
}

interface ConvCase {
  B: number;
  H: number;
  W: number;
  cin: number;
  cout: number;
  k: 1 | 3;
  bias?: boolean;
  residual?: boolean;
  upsample?: boolean;
}

const label = (c: ConvCase) =>
  `x [${c.B}, ${c.H}, ${c.W}, ${c.cin}] ${c.k}x${c.k} -> ${c.cout}${c.bias ? ' + bias' : ''}${c.residual ? ' + residual' : ''}${c.upsample ? ', upsampled' : ''}`;

function convSetup(c: ConvCase, seed: number) {
  const up = c.upsample ? 2 : 1;
  const outShape = [c.B, c.H * up, c.W * up, c.cout];
  const shapes = [[c.B, c.H, c.W, c.cin], [c.k, c.k, c.cin, c.cout]];
  if (c.bias) shapes.push([c.cout]);
  if (c.residual) shapes.push(outShape);
  const values = shapes.map((s, i) => uniform(size(s), seed + i));
  const r = normal(size(outShape), seed + 9);
  const ours = (engine: Engine) => (vars: Variable[]) => {
    const [x, w, ...rest] = vars as [Variable, Variable, ...Variable[]];
    const y = grad.conv2d(x, w, {
      ...(c.bias && { bias: rest[0]! }),
      ...(c.residual && { residual: rest[c.bias ? 1 : 0]! }),
      upsample: !!c.upsample,
    });
    return weightedSum(engine, y, r);
  };
  const theirs = (tf: Tf, ...xs: tfc.Tensor[]) => {
    let x = xs[0] as tfc.Tensor4D;
    if (c.upsample) x = upsampleByGather(tf, x);
    let y: tfc.Tensor = tf.conv2d(x, xs[1] as tfc.Tensor4D, 1, 'same');
    for (const extra of xs.slice(2)) y = tf.add(y, extra);
    return tf.mul(y, tf.tensor(r, outShape));
  };
  return { shapes, values, ours, theirs };
}

describe('conv2d gradients (dx: transposed conv, dw: correlation over pixels, dbias, dresidual)', () => {
  const cases: ConvCase[] = [
    { B: 2, H: 5, W: 7, cin: 3, cout: 8, k: 3, bias: true }, // the encoder's input conv: Cin 3
    { B: 2, H: 5, W: 6, cin: 8, cout: 3, k: 3, bias: true }, // the decoder's output conv: Cout 3
    { B: 1, H: 4, W: 4, cin: 8, cout: 8, k: 3, residual: true }, // a block's second conv
    { B: 2, H: 3, W: 5, cin: 12, cout: 5, k: 3, bias: true, upsample: true }, // the decoder's upsampling conv
    { B: 2, H: 6, W: 5, cin: 8, cout: 12, k: 1, residual: true }, // the 1x1 shortcut
    { B: 1, H: 1, W: 1, cin: 4, cout: 4, k: 3 }, // every tap but the centre is padding
  ];
  for (const [i, c] of cases.entries()) {
    it(`${label(c)}: finite differences`, { timeout: HANG_GUARD_MS }, async () => {
      const engine = await getEngine();
      const s = convSetup(c, 10 * i);
      // The loss is linear in each input: the central difference is exact up to f32 rounding
      // of the loss (~1e-7 of sum |y r| ~ 10), divided by 2h = 0.02: ~1e-4.
      await gradCheck(engine, s.values, s.shapes, s.ours(engine), { h: 1e-2, atol: 1e-3, rtol: 1e-3, samples: 10 });
    });
  }
  const oracleCases: ConvCase[] = [
    ...cases,
    { B: 2, H: 17, W: 9, cin: 12, cout: 20, k: 3, bias: true, residual: true }, // rows in many chunks, channel tiles with a remainder
    { B: 3, H: 8, W: 8, cin: 32, cout: 64, k: 3 }, // several input-channel tiles
    { B: 2, H: 4, W: 6, cin: 3, cout: 3, k: 1, bias: true },
  ];
  for (const [i, c] of oracleCases.entries()) {
    it(`${label(c)}: tfjs gradients, subgroup and portable paths`, { timeout: HANG_GUARD_MS }, async () => {
      const s = convSetup(c, 100 + 10 * i);
      for (const engine of [await getEngine(), await createEngine({ disableFeatures: ['subgroups'] })]) {
        // Sums of up to B*H*W*9 products of O(1) values in another order than tfjs: relative
        // f32 rounding ~1e-6 of sums of magnitude ~sqrt(n): atol 1e-4, rtol 1e-4.
        await checkAgainstTf(engine, s.values, s.shapes, s.ours(engine), s.theirs, { atol: 1e-4, rtol: 1e-4 }, `${label(c)}${engine.hasSubgroups ? '' : ' (portable)'}`);
        if (!engine.hasSubgroups) engine.destroy();
      }
    });
  }

  it('the weight gradient sums every pixel of a large batch (many chunks) exactly as tfjs', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const tf = await oracle();
    const [B, H, W, cin, cout] = [8, 32, 32, 32, 32];
    const xv = uniform(B * H * W * cin, 1);
    const dyv = uniform(B * H * W * cout, 2);
    const dw = ops.conv2dFilterGrad(engine.tensor(xv, [B, H, W, cin]), engine.tensor(dyv, [B, H, W, cout]), 3);
    expect(dw.shape).toEqual([3, 3, cin, cout]);
    const wv = uniform(9 * cin * cout, 3);
    // dW and dX of sum(conv(x, w) * dy).
    const [refDx, ref] = tf.grads((x: tfc.Tensor, w: tfc.Tensor) => tf.sum(tf.mul(tf.conv2d(x as tfc.Tensor4D, w as tfc.Tensor4D, 1, 'same'), tf.tensor4d(dyv, [B, H, W, cout]))))([
      tf.tensor4d(xv, [B, H, W, cin]),
      tf.tensor4d(wv, [3, 3, cin, cout]),
    ]);
    // Sums of 8192 products in [-1, 1] (magnitude ~30): f32 rounding in either order ~1e-5 relative.
    expectClose(await dw.read(), ref!.dataSync(), { atol: 2e-4, rtol: 1e-4 }, 'dW');
    const dx = ops.conv2dInputGrad(engine.tensor(dyv, [B, H, W, cout]), engine.tensor(wv, [3, 3, cin, cout]));
    expectClose(await dx.read(), refDx!.dataSync(), { atol: 1e-4, rtol: 1e-4 }, 'dX');
  });

  it('flips kernels and checks shapes', async () => {
    const engine = await getEngine();
    const w = engine.tensor(Float32Array.from({ length: 3 * 3 * 2 * 4 }, (_, i) => i), [3, 3, 2, 4]);
    const wt = await ops.flipKernel(w, 2).read();
    // wt[ky, kx, co, ci] = 2 w[2 - ky, 2 - kx, ci, co]
    for (let ky = 0; ky < 3; ky++)
      for (let kx = 0; kx < 3; kx++)
        for (let co = 0; co < 4; co++)
          for (let ci = 0; ci < 2; ci++) expect(wt[((ky * 3 + kx) * 4 + co) * 2 + ci]).toBe(2 * (((2 - ky) * 3 + (2 - kx)) * 2 * 4 + ci * 4 + co));
    const x = engine.tensor(new Float32Array(2 * 4 * 4 * 3), [2, 4, 4, 3]);
    expect(() => ops.conv2dFilterGrad(x, engine.tensor(new Float32Array(2 * 4 * 5 * 3), [2, 4, 5, 3]), 3)).toThrow(ShapeError);
    expect(() => ops.conv2dFilterGrad(x, engine.tensor(new Float32Array(2 * 4 * 4 * 3), [2, 4, 4, 3]), 5)).toThrow(/1x1 or 3x3/);
  });
});

describe('conv2d training paths: GEMM over padded windows and direct kernels agree with tfjs', () => {
  // Every path forced (method 'gemm' / 'direct') whatever the adapter, on shapes that reach
  // each of their edges: Cin 3 (scalar loads), channels not a multiple of 4 or 32, 1x1
  // kernels, upsampling, bias + residual in the forward, one-pixel and non-square images.
  const cases: ConvCase[] = [
    { B: 2, H: 5, W: 7, cin: 3, cout: 8, k: 3, bias: true },
    { B: 1, H: 6, W: 4, cin: 8, cout: 32, k: 3, bias: true, residual: true },
    { B: 3, H: 4, W: 9, cin: 12, cout: 5, k: 3, upsample: true, bias: true },
    { B: 2, H: 8, W: 8, cin: 32, cout: 64, k: 3, residual: true },
    { B: 2, H: 5, W: 6, cin: 8, cout: 12, k: 1, bias: true, residual: true },
    { B: 1, H: 1, W: 1, cin: 4, cout: 4, k: 3 },
  ];
  for (const [i, c] of cases.entries()) {
    it(`${label(c)}`, { timeout: HANG_GUARD_MS }, async () => {
      const engine = await getEngine();
      const tf = await oracle();
      const up = c.upsample ? 2 : 1;
      const s = convSetup(c, 500 + 10 * i);
      const [xv, wv] = s.values as [Float32Array, Float32Array];
      const outShape = [c.B, c.H * up, c.W * up, c.cout];
      const dyv = uniform(size(outShape), 600 + i);
      const ref = (() => {
        let xt: tfc.Tensor4D = tf.tensor4d(xv, s.shapes[0] as [number, number, number, number]);
        if (c.upsample) xt = upsampleByGather(tf, xt);
        const wt = tf.tensor4d(wv, s.shapes[1] as [number, number, number, number]);
        let y: tfc.Tensor = tf.conv2d(xt, wt, 1, 'same');
        for (const extra of s.values.slice(2).map((v, j) => tf.tensor(v, s.shapes[2 + j]!))) y = tf.add(y, extra);
        const f = (a: tfc.Tensor, b: tfc.Tensor) => tf.sum(tf.mul(tf.conv2d((c.upsample ? upsampleByGather(tf, a) : a) as tfc.Tensor4D, b as tfc.Tensor4D, 1, 'same'), tf.tensor(dyv, outShape)));
        const [dx, dw] = tf.grads(f)([tf.tensor4d(xv, s.shapes[0] as [number, number, number, number]), wt]);
        return { y: y.dataSync(), dx: dx!.dataSync(), dw: dw!.dataSync() };
      })();
      const x = engine.tensor(xv, s.shapes[0]!);
      const w = engine.tensor(wv, s.shapes[1]!);
      const extras = s.values.slice(2).map((v, j) => engine.tensor(v, s.shapes[2 + j]!));
      const bias = c.bias ? extras[0] : undefined;
      const residual = c.residual ? extras[c.bias ? 1 : 0] : undefined;
      const dy = engine.tensor(dyv, outShape);
      for (const method of ['gemm', 'direct'] as const) {
        const y = ops.conv2dForTraining(x, w, { ...(bias && { bias }), ...(residual && { residual }), upsample: !!c.upsample, method: c.k === 1 && c.upsample ? 'direct' : method });
        expect(y.shape).toEqual(outShape);
        // Sums of up to 9 * Cin products of O(1) values in another order than tfjs.
        expectClose(await y.read(), ref.y, { atol: 1e-4, rtol: 1e-4 }, `${method} forward`);
        expectClose(await ops.conv2dFilterGrad(x, dy, c.k, { upsample: !!c.upsample, method }).read(), ref.dw, { atol: 2e-4, rtol: 1e-4 }, `${method} dW`);
        expectClose(await ops.conv2dInputGrad(dy, w, { upsample: !!c.upsample, method }).read(), ref.dx, { atol: 1e-4, rtol: 1e-4 }, `${method} dX`);
      }
    });
  }

  it('reports a GEMM path it does not have, and matmulView views that leave their buffers', async () => {
    const engine = await getEngine();
    const x = engine.tensor(new Float32Array(2 * 3 * 3 * 4), [2, 3, 3, 4]);
    const w = engine.tensor(new Float32Array(4 * 8), [1, 1, 4, 8]);
    expect(() => ops.conv2dForTraining(x, w, { upsample: true, method: 'gemm' })).toThrow(/no GEMM path for a 1x1 kernel through upsampling/);
    expect(() => ops.conv2dFilterGrad(x, engine.tensor(new Float32Array(2 * 6 * 6 * 8), [2, 6, 6, 8]), 1, { upsample: true, method: 'gemm' })).toThrow(/no GEMM path/);
    const a = engine.tensor(new Float32Array(40), [40]);
    const b = engine.tensor(new Float32Array(12), [4, 3]);
    expect(() => matmulView(a, engine.tensor(new Float32Array(15), [5, 3]), { M: 10, N: 3, K: 5, lda: 4, batchDims: [], strideA: [], strideB: [] })).toThrow(/reach elements 41 of a \(40\)/);
    expect(() => matmulView(a, b, { M: 9, N: 3, K: 4, lda: 4, offsetA: 8, batchDims: [], strideA: [], strideB: [] })).toThrow(/reach elements 44 of a/);
    const ok = matmulView(a, b, { M: 9, N: 3, K: 4, lda: 4, batchDims: [], strideA: [], strideB: [] });
    expect(ok.shape).toEqual([9, 3]);
    for (const t of [x, w, a, b, ok]) t.dispose();
  });
});

/** GroupNorm (+ swish) in tfjs-core from moments. */
function tfGroupNorm(tf: Tf, x: tfc.Tensor, scale: tfc.Tensor, bias: tfc.Tensor, groups: number, eps: number, swish: boolean): tfc.Tensor {
  const [B, H, W, C] = x.shape as [number, number, number, number];
  const grouped = tf.reshape(x, [B, H, W, groups, C / groups]);
  const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
  const normed = tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, eps))), x.shape);
  const y = tf.add(tf.mul(normed, scale), bias);
  return swish ? tf.mul(y, tf.sigmoid(y)) : y;
}

describe('GroupNorm (+ swish) gradients', () => {
  const cases: [number[], number, boolean][] = [
    [[2, 5, 7, 8], 4, true],
    [[1, 3, 3, 6], 2, false], // channels not a multiple of 4
    [[2, 4, 4, 16], 8, true], // groups of 2 channels inside a vector of 4
    [[3, 6, 5, 32], 8, true],
    [[2, 4, 3, 96], 32, true], // more channels than the reduction's lanes
  ];
  for (const [shape, groups, swish] of cases) {
    const C = shape[3]!;
    const shapes = [shape, [C], [C]];
    const seed = size(shape) + groups;
    const values = [uniform(size(shape), seed, -2, 2), uniform(C, seed + 1, 0.5, 1.5), uniform(C, seed + 2, -0.5, 0.5)];
    const r = normal(size(shape), seed + 3);
    const ours = (engine: Engine) => (vars: Variable[]) => weightedSum(engine, grad.groupNorm(vars[0]!, vars[1]!, vars[2]!, { groups, eps: 1e-6, swish }), r);
    it(`[${shape}] ${groups} groups${swish ? ' + swish' : ''}: finite differences`, { timeout: HANG_GUARD_MS }, async () => {
      const engine = await getEngine();
      // Smooth but not linear: h = 1e-2 leaves a truncation error O(h^2) next to f32 rounding.
      await gradCheck(engine, values, shapes, ours(engine), { h: 1e-2, atol: 3e-3, rtol: 1e-2, samples: 10 });
    });
    it(`[${shape}] ${groups} groups${swish ? ' + swish' : ''}: tfjs gradients, both workgroup layouts`, { timeout: HANG_GUARD_MS }, async () => {
      const engine = await getEngine();
      // Many small chunks (GPUs) and few large ones (CPU adapters), whatever this adapter is.
      for (const layout of ['gpu', 'cpu'] as const) {
        workgroupLayout.mode = layout;
        try {
          // Statistics and gradient sums over up to 480 values per group in another order.
          await checkAgainstTf(
            engine,
            values,
            shapes,
            ours(engine),
            (tf, x, s, b) => tf.mul(tfGroupNorm(tf, x!, s!, b!, groups, 1e-6, swish), tf.tensor(r, shape)),
            { atol: 2e-5, rtol: 2e-4 },
            `groupNorm [${shape}] ${layout} layout`,
          );
        } finally {
          workgroupLayout.mode = 'auto';
        }
      }
    });
  }
});

describe('swish, avgPool2x2 and upsampleNearest2x gradients', () => {
  it('swish: finite differences and tfjs', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    for (const shape of [[3, 17], [2, 8]]) {
      const values = [uniform(size(shape), size(shape), -6, 6)];
      const r = normal(size(shape), 5);
      const ours = (vars: Variable[]) => weightedSum(engine, grad.swish(vars[0]!), r);
      await gradCheck(engine, values, [shape], ours, { h: 1e-2, atol: 2e-3, rtol: 1e-2 });
      await checkAgainstTf(engine, values, [shape], ours, (tf, x) => tf.mul(tf.mul(x!, tf.sigmoid(x!)), tf.tensor(r, shape)), { atol: 1e-6, rtol: 1e-5 }, `swish [${shape}]`);
    }
  });

  for (const shape of [[2, 4, 6, 8], [1, 2, 2, 3], [3, 6, 2, 5]]) {
    it(`avgPool2x2 [${shape}]: finite differences and tfjs`, { timeout: HANG_GUARD_MS }, async () => {
      const engine = await getEngine();
      const [B, H, W, C] = shape as [number, number, number, number];
      const values = [uniform(size(shape), size(shape))];
      const r = normal((B * H * W * C) / 4, 7);
      const ours = (vars: Variable[]) => weightedSum(engine, grad.avgPool2x2(vars[0]!), r);
      await gradCheck(engine, values, [shape], ours, { h: 1e-2, atol: 1e-3, rtol: 1e-3 });
      await checkAgainstTf(engine, values, [shape], ours, (tf, x) => tf.mul(tf.avgPool(x as tfc.Tensor4D, 2, 2, 'valid'), tf.tensor(r, [B, H / 2, W / 2, C])), { atol: 1e-6, rtol: 1e-6 }, `avgPool [${shape}]`);
    });
  }

  for (const shape of [[2, 3, 5, 4], [1, 1, 1, 3], [2, 2, 3, 8]]) {
    it(`upsampleNearest2x [${shape}]: finite differences and tfjs`, { timeout: HANG_GUARD_MS }, async () => {
      const engine = await getEngine();
      const [B, H, W, C] = shape as [number, number, number, number];
      const values = [uniform(size(shape), size(shape) + 1)];
      const r = normal(B * H * W * C * 4, 8);
      const ours = (vars: Variable[]) => weightedSum(engine, grad.upsampleNearest2x(vars[0]!), r);
      await gradCheck(engine, values, [shape], ours, { h: 1e-2, atol: 1e-3, rtol: 1e-3 });
      await checkAgainstTf(
        engine,
        values,
        [shape],
        ours,
        (tf, x) => tf.mul(upsampleByGather(tf, x!), tf.tensor(r, [B, 2 * H, 2 * W, C])),
        { atol: 1e-6, rtol: 1e-6 },
        `upsample [${shape}]`,
      );
    });
  }
});

describe('vector quantization: straight-through estimator and commitment loss', () => {
  const [K, D] = [6, 4];
  const zShape = [2, 3, 3, D];
  const codebookValues = normal(K * D, 31);
  const zValues = normal(size(zShape), 32, 1.2);
  const r = normal(size(zShape), 33);
  const beta = 0.25;

  it('tokens and quantized values are the nearest codes; the loss is beta * mean((z - q)^2)', async () => {
    const engine = await getEngine();
    const codebook = engine.tensor(codebookValues, [K, D]);
    const z = parameter(engine.tensor(zValues, zShape));
    const { quantized, commitment, tokens } = grad.vectorQuantize(z, codebook, beta);
    expect(tokens.shape).toEqual([2, 3, 3]);
    const ids = await tokens.read();
    const q = await quantized.value.read();
    let sq = 0;
    for (let i = 0; i < ids.length; i++) {
      const dist = (k: number) => Array.from({ length: D }, (_, d) => (zValues[i * D + d]! - codebookValues[k * D + d]!) ** 2).reduce((a, b) => a + b, 0);
      const best = [...Array(K).keys()].reduce((a, b) => (dist(b) < dist(a) ? b : a), 0);
      expect(ids[i]).toBe(best);
      for (let d = 0; d < D; d++) {
        expect(q[i * D + d]).toBe(codebookValues[best * D + d]);
        sq += (zValues[i * D + d]! - codebookValues[best * D + d]!) ** 2;
      }
    }
    expect((await commitment.value.read())[0]).toBeCloseTo((beta * sq) / zValues.length, 6);
  });

  it('the decoder gradient passes straight through; the commitment gradient matches finite differences', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const codebook = engine.tensor(codebookValues, [K, D]);
    // Straight through: d sum(r * z_q) / dz = r exactly.
    const st = await autogradOf(engine, [zValues], [zShape], ([z]) => weightedSum(engine, grad.vectorQuantize(z!, codebook, beta).quantized, r));
    expectClose(st.grads[0]!, r, { atol: 0 }, 'straight-through gradient');
    // The commitment loss is smooth wherever the nearest code does not change (h = 1e-3 is
    // far below the distances to the Voronoi boundaries of these points).
    await gradCheck(engine, [zValues], [zShape], ([z]) => grad.vectorQuantize(z!, codebook, beta).commitment, { h: 1e-3, atol: 1e-4, rtol: 1e-2, samples: 16 });
  });

  /** q = sg(nearest code of z): computed from the constant z, so no gradient flows through the search. */
  const nearestCodes = (tf: Tf): tfc.Tensor => {
    const cb = tf.tensor2d(codebookValues, [K, D]);
    const flat = tf.tensor2d(zValues, [zValues.length / D, D]);
    const dist = tf.sub(tf.add(tf.sum(tf.square(flat), 1, true), tf.sum(tf.square(cb), 1)), tf.mul(2, tf.matMul(flat, cb, false, true)));
    return tf.reshape(tf.gather(cb, tf.argMin(dist, 1)), zShape);
  };

  it('both together equal tfjs with a custom straight-through gradient', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const codebook = engine.tensor(codebookValues, [K, D]);
    await checkAgainstTf(
      engine,
      [zValues],
      [zShape],
      ([z]) => {
        const v = grad.vectorQuantize(z!, codebook, beta);
        return grad.add(weightedSum(engine, v.quantized, r), v.commitment);
      },
      (tf, z) => {
        const q = nearestCodes(tf);
        const straightThrough = tf.customGrad(((x: tfc.Tensor) => ({ value: tf.add(q, tf.mul(x, 0)), gradFunc: (dy: tfc.Tensor) => dy })) as unknown as Parameters<Tf['customGrad']>[0]);
        const decoderLoss = tf.sum(tf.mul(straightThrough(z!), tf.tensor(r, zShape)));
        const commit = tf.mul(beta, tf.mean(tf.square(tf.sub(z!, q))));
        return tf.add(decoderLoss, commit);
      },
      { atol: 1e-6, rtol: 1e-5 },
      'vq',
    );
  });
});

describe('mean squared error', () => {
  it('finite differences and tfjs', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const shape = [2, 5, 3, 3];
    const target = uniform(size(shape), 41, 0, 1);
    const values = [uniform(size(shape), 42, 0, 1)];
    const ours = (vars: Variable[]) => grad.meanSquaredError(vars[0]!, engine.tensor(target, shape));
    await gradCheck(engine, values, [shape], ours, { h: 1e-2, atol: 1e-4, rtol: 1e-2 });
    await checkAgainstTf(engine, values, [shape], ours, (tf, x) => tf.mean(tf.square(tf.sub(x!, tf.tensor(target, shape)))), { atol: 1e-7, rtol: 1e-5 }, 'mse');
    expect(() => grad.meanSquaredError(parameter(engine.tensor(values[0]!, shape)), engine.tensor(target, [2, 5, 9]))).toThrow(ShapeError);
  });
});
