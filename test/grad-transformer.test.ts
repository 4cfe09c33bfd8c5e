// Backward kernels of the transformer's ops: each against tfjs-core's gradients (CPU, f32) as a
// vector-Jacobian product with a random output gradient, and against central finite differences
// through a scalar loss. Tolerances: the GPU and the oracle both compute in f32 but in different
// orders; gradients are sums of up to a few hundred products of O(1) values, so 1e-5 absolute
// plus 1e-4 relative leaves room for rounding and nothing else. Finite differences in f32 with
// h = 1e-2 carry O(h^2) truncation and ~1e-5/h rounding: 2e-3 + 2e-2 relative.
import type * as TF from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { backward, constant, createEngine, grad, ops, parameter, type Engine, type Tensor, type Variable } from '../src/node.js';
import { expectClose } from './helpers/compare.js';
import { getEngine } from './helpers/engine.js';
import { gradCheck } from './helpers/gradcheck.js';
import { oracle } from './helpers/oracle.js';
import { randomInts, uniform } from './helpers/random.js';

const TOL = { atol: 1e-5, rtol: 1e-4 };
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Our gradients of f(params) for the output gradient dy: one backward with gradOutput. */
async function ourVJP(engine: Engine, values: Float32Array[], shapes: number[][], f: (vars: Variable[]) => Variable, dy: Float32Array) {
  const vars = values.map((v, i) => parameter(engine.tensor(v, shapes[i]!)));
  const out = f(vars);
  const forward = Float32Array.from(await out.value.read());
  backward(out, { gradOutput: engine.tensor(dy, out.shape) });
  const grads: Float32Array[] = [];
  for (const v of vars) {
    grads.push(Float32Array.from(await (v.grad as Tensor).read()));
    v.zeroGrad();
    v.value.dispose();
  }
  return { forward, grads };
}

/** tfjs's output and gradients of the same function for the same dy. */
function tfVJP(tf: typeof TF, values: Float32Array[], shapes: number[][], f: (...xs: TF.Tensor[]) => TF.Tensor, dy: Float32Array) {
  const xs = values.map((v, i) => tf.tensor(v, shapes[i]!));
  const out = f(...xs);
  const grads = tf.grads((...args: TF.Tensor[]) => f(...args))(xs, tf.tensor(dy, out.shape));
  return { forward: out.dataSync() as Float32Array, grads: grads.map((g) => g.dataSync() as Float32Array) };
}

/** sum(out * r) for a fixed random r: a scalar that depends on every output element. */
function project(out: Variable, seed: number): Variable {
  const engine = out.value.engine;
  const n = out.value.size;
  const r = constant(engine.tensor(uniform(n, seed), out.shape));
  return grad.sum(grad.reshape(grad.mul(out, r), [n]));
}

async function compareVJP(
  values: Float32Array[],
  shapes: number[][],
  ours: (vars: Variable[]) => Variable,
  theirs: (tf: typeof TF) => (...xs: TF.Tensor[]) => TF.Tensor,
  what: string,
  tol = TOL,
  engine?: Engine,
) {
  engine ??= await getEngine();
  const tf = await oracle();
  const outShape = tf.tidy(() => theirs(tf)(...values.map((v, i) => tf.tensor(v, shapes[i]!))).shape);
  const dy = uniform(size(outShape), 99 + values.length, -1, 1);
  const a = await ourVJP(engine, values, shapes, ours, dy);
  const b = tfVJP(tf, values, shapes, theirs(tf), dy);
  expectClose(a.forward, b.forward, tol, `${what}: forward`);
  a.grads.forEach((g, i) => expectClose(g, b.grads[i]!, tol, `${what}: gradient of input ${i}`));
}

const GELU_K = Math.sqrt(2 / Math.PI);
const tfGelu = (tf: typeof TF, x: TF.Tensor, form: 'tanh' | 'erf') =>
  form === 'tanh'
    ? tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(GELU_K, tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))))
    : tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));

function tfLayerNorm(tf: typeof TF, x: TF.Tensor, s: TF.Tensor, b: TF.Tensor, eps: number): TF.Tensor {
  const mean = tf.mean(x, -1, true);
  const d = tf.sub(x, mean);
  const variance = tf.mean(tf.square(d), -1, true);
  return tf.add(tf.mul(tf.div(d, tf.sqrt(tf.add(variance, eps))), s), b);
}

/** softmax(q k^T / sqrt(d)) v per head, over a fused qkv [B, L, 3H]. */
function tfAttention(tf: typeof TF, qkv: TF.Tensor, heads: number): TF.Tensor {
  const [B, L, W] = qkv.shape as [number, number, number];
  const H = W / 3;
  const d = H / heads;
  const part = (k: number) => tf.transpose(tf.reshape(tf.slice(qkv, [0, 0, k * H], [B, L, H]), [B, L, heads, d]), [0, 2, 1, 3]);
  const scores = tf.mul(tf.matMul(part(0), part(1), false, true), 1 / Math.sqrt(d));
  const out = tf.matMul(tf.softmax(scores), part(2));
  return tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [B, L, H]);
}

describe('matmul gradients (dA, dB, bias; oracle: tfjs-core)', () => {
  const cases: { a: number[]; b: number[]; tA?: boolean; tB?: boolean; bias?: boolean }[] = [
    { a: [1, 1], b: [1, 1] },
    { a: [3, 5], b: [5, 7], bias: true },
    { a: [2, 3, 5], b: [5, 4], bias: true },
    { a: [2, 17, 8], b: [11, 8], tB: true, bias: true },
    { a: [5, 3], b: [5, 4], tA: true },
    { a: [2, 5, 3], b: [4, 5], tA: true, tB: true },
    { a: [2, 3, 5], b: [2, 5, 4] },
    { a: [65, 33], b: [33, 257], bias: true },
  ];
  for (const c of cases) {
    it(`a [${c.a}]${c.tA ? '^T' : ''} @ b [${c.b}]${c.tB ? '^T' : ''}${c.bias ? ' + bias' : ''}`, async () => {
      const N = c.tB ? c.b[c.b.length - 2]! : c.b[c.b.length - 1]!;
      const shapes = [c.a, c.b, ...(c.bias ? [[N]] : [])];
      const values = shapes.map((s, i) => uniform(size(s), 10 + i));
      await compareVJP(
        values,
        shapes,
        ([a, b, bias]) => grad.matmul(a!, b!, { transposeA: c.tA ?? false, transposeB: c.tB ?? false, ...(bias ? { bias } : {}) }),
        (tf) =>
          (a, b, bias) => {
            // tfjs broadcasts a shared b over a's batch only after reshaping; fold it like our op.
            let out: TF.Tensor;
            if (c.b.length === 2 && c.a.length === 3 && !c.tA) {
              const [B, M, K] = c.a as [number, number, number];
              out = tf.reshape(tf.matMul(tf.reshape(a!, [B * M, K]), b!, false, c.tB ?? false), [B, M, N]);
            } else if (c.b.length === 2 && c.a.length === 3) {
              out = tf.matMul(a!, tf.tile(tf.expandDims(b!, 0), [c.a[0]!, 1, 1]), c.tA ?? false, c.tB ?? false);
            } else out = tf.matMul(a!, b!, c.tA ?? false, c.tB ?? false);
            return bias ? tf.add(out, bias) : out;
          },
        'matmul',
      );
    });
  }

  it('matches finite differences (batched a, shared weight, bias)', async () => {
    const engine = await getEngine();
    await gradCheck(engine, [uniform(30, 1), uniform(20, 2), uniform(4, 3)], [[2, 3, 5], [5, 4], [4]], ([a, b, c]) => project(grad.matmul(a!, b!, { bias: c! }), 5));
  });
});

describe('GELU gradients (tanh and erf forms)', () => {
  for (const form of ['tanh', 'erf'] as const) {
    for (const n of [1, 3, 17, 1025]) {
      it(`${form}, n = ${n} (oracle: tfjs-core)`, async () => {
        await compareVJP([uniform(n, n, -6, 6)], [[n]], ([x]) => grad.gelu(x!, form), (tf) => (x) => tfGelu(tf, x!, form), `gelu ${form}`);
      });
    }
    it(`${form} matches finite differences`, async () => {
      const engine = await getEngine();
      await gradCheck(engine, [uniform(17, 4, -4, 4)], [[17]], ([x]) => project(grad.gelu(x!, form), 6), { h: 1e-2, samples: 17 });
    });
  }
});

describe('LayerNorm gradients (dx, dscale, dbias)', () => {
  for (const [shape, eps] of [
    [[3, 5], 1e-5],
    [[17, 257], 1e-5],
    [[2, 65, 256], 1e-12],
    [[1025, 4], 1e-12],
  ] as [number[], number][]) {
    it(`[${shape}], eps ${eps} (oracle: tfjs-core)`, async () => {
      const H = shape[shape.length - 1]!;
      const values = [uniform(size(shape), 1, -2, 3), uniform(H, 2, 0.5, 1.5), uniform(H, 3)];
      await compareVJP(
        values,
        [shape, [H], [H]],
        ([x, s, b]) => grad.layerNorm(x!, s!, b!, { eps }),
        (tf) => (x, s, b) => tfLayerNorm(tf, x!, s!, b!, eps),
        'layerNorm',
        { atol: 2e-5, rtol: 2e-4 },
      );
    });
  }
  it('matches finite differences', async () => {
    const engine = await getEngine();
    await gradCheck(engine, [uniform(15, 7, -2, 2), uniform(5, 8, 0.5, 1.5), uniform(5, 9)], [[3, 5], [5], [5]], ([x, s, b]) =>
      project(grad.layerNorm(x!, s!, b!, { eps: 1e-5 }), 10),
    );
  });
});

describe('embedding gradients (word scatter-add with repeated ids, positions)', () => {
  const cases = [
    { B: 2, L: 5, vocab: 7, P: 6, H: 8 },
    { B: 3, L: 4, vocab: 5, P: 4, H: 3 },
    { B: 64, L: 65, vocab: 267, P: 65, H: 16 },
  ];
  for (const { B, L, vocab, P, H } of cases) {
    it(`tokens [${B}, ${L}], vocab ${vocab}, positions ${P}, hidden ${H} (oracle: tfjs-core)`, async () => {
      const engine = await getEngine();
      // About half the ids are the mask token (-1 reads the last row, as the forward does); the rest repeat too.
      const ids = Int32Array.from(randomInts(B * L, vocab, 0, vocab), (v, i) => (i % 2 === 0 ? -1 : v % Math.max(1, vocab - 3)));
      const tokens = engine.tensor(ids, [B, L], 'i32');
      const mapped = Array.from(ids, (id) => (id < 0 ? id + vocab : id));
      await compareVJP(
        [uniform(vocab * H, 1), uniform(P * H, 2)],
        [[vocab, H], [P, H]],
        ([w, p]) => grad.embedding(tokens, w!, p!),
        (tf) => (w, p) => tf.add(tf.reshape(tf.gather(w!, tf.tensor1d(mapped, 'int32')), [B, L, H]), tf.slice(p!, [0, 0], [L, H])),
        'embedding',
      );
    });
  }

  it('gives the same bits on every run (no atomics)', async () => {
    const engine = await getEngine();
    const [B, L, vocab, H] = [16, 65, 40, 12];
    const tokens = engine.tensor(Int32Array.from(randomInts(B * L, 5, 0, 4)), [B, L], 'i32');
    const g = engine.tensor(uniform(B * L * H, 6), [B, L, H]);
    const first = await ops.embeddingWordGrad(tokens, g, vocab).read();
    for (let run = 0; run < 3; run++) expect(await ops.embeddingWordGrad(tokens, g, vocab).read()).toEqual(first);
    // Rows whose id never occurs are zero.
    expect(first.slice(10 * H).every((v) => v === 0)).toBe(true);
  });

  it('matches finite differences', async () => {
    const engine = await getEngine();
    const tokens = engine.tensor([1, 3, 3, 0, 3, -1], [2, 3], 'i32');
    await gradCheck(engine, [uniform(20, 1), uniform(12, 2)], [[5, 4], [3, 4]], ([w, p]) => project(grad.embedding(tokens, w!, p!), 3), { samples: 20 });
  });
});

describe('attention gradients (flash-style: dq pass, dk/dv pass)', () => {
  const cases = [
    { B: 1, L: 1, heads: 1, d: 4 },
    { B: 2, L: 3, heads: 2, d: 4 },
    { B: 1, L: 17, heads: 3, d: 8 },
    { B: 2, L: 65, heads: 4, d: 8 },
    { B: 1, L: 40, heads: 2, d: 3 },
    { B: 1, L: 257, heads: 2, d: 4 },
  ];
  for (const { B, L, heads, d } of cases) {
    it(`B ${B}, L ${L}, ${heads} heads of ${d} (oracle: tfjs-core)`, async () => {
      const H = heads * d;
      await compareVJP(
        [uniform(B * L * 3 * H, L + d, -2, 2)],
        [[B, L, 3 * H]],
        ([qkv]) => grad.attention(qkv!, { heads }),
        (tf) => (qkv) => tfAttention(tf, qkv!, heads),
        'attention',
        { atol: 2e-5, rtol: 2e-4 },
      );
    });
  }
  it('matches finite differences', async () => {
    const engine = await getEngine();
    await gradCheck(engine, [uniform(2 * 5 * 24, 3, -1.5, 1.5)], [[2, 5, 24]], ([qkv]) => project(grad.attention(qkv!, { heads: 2 }), 4), { samples: 40 });
  });
});

describe('dropout (Philox masks from seed, site and step)', () => {
  it('keeps the host mirror\'s elements, scaled by 1 / (1 - rate), and the backward uses the same mask', async () => {
    const engine = await getEngine();
    for (const n of [1, 3, 17, 1025, 4096]) {
      const options = { rate: 0.1, seed: 7, site: 3, step: 11 };
      const xv = uniform(n, n, 0.5, 1.5);
      const x = parameter(engine.tensor(xv, [n]));
      const y = grad.dropout(x, options);
      const keeps = ops.dropoutKeeps(n, options);
      const expected = Float32Array.from(xv, (v, i) => (keeps[i] ? v / 0.9 : 0));
      expectClose(await y.value.read(), expected, { atol: 0, rtol: 1e-6 }, `dropout n=${n}`);
      const dy = uniform(n, 2 * n);
      backward(y, { gradOutput: engine.tensor(dy, [n]) });
      expectClose(await x.grad!.read(), Float32Array.from(dy, (v, i) => (keeps[i] ? v / 0.9 : 0)), { atol: 0, rtol: 1e-6 }, `dropout grad n=${n}`);
    }
  });
  it('drops the given fraction, differently per site and step, the same for the same (seed, site, step)', () => {
    const n = 200_000;
    const a = ops.dropoutKeeps(n, { rate: 0.1, seed: 1, site: 0, step: 0 });
    const kept = a.reduce((s, v) => s + v, 0) / n;
    // Binomial: sd = sqrt(0.09 / n) = 6.7e-4; 5 sd.
    expect(Math.abs(kept - 0.9)).toBeLessThan(3.4e-3);
    const same = ops.dropoutKeeps(n, { rate: 0.1, seed: 1, site: 0, step: 0 });
    expect(same).toEqual(a);
    for (const other of [{ site: 1, step: 0 }, { site: 0, step: 1 }]) {
      const b = ops.dropoutKeeps(n, { rate: 0.1, seed: 1, ...other });
      let agree = 0;
      for (let i = 0; i < n; i++) agree += a[i] === b[i] ? 1 : 0;
      // Independent masks agree on 0.9^2 + 0.1^2 = 82% of elements.
      expect(Math.abs(agree / n - 0.82)).toBeLessThan(0.01);
    }
  });
});

describe('the tied output head (logits = h @ word[:C]^T + bias[:C])', () => {
  it('sends the head\'s gradient into the same embedding table as the input side (oracle: tfjs-core)', async () => {
    const [B, L, H, vocab, C] = [2, 5, 8, 11, 7];
    const engine = await getEngine();
    const ids = Int32Array.from(randomInts(B * L, 3, 0, vocab));
    const tokens = engine.tensor(ids, [B, L], 'i32');
    await compareVJP(
      [uniform(vocab * H, 1), uniform(L * H, 2), uniform(vocab, 3)],
      [[vocab, H], [L, H], [vocab]],
      ([w, p, b]) => {
        const h = grad.embedding(tokens, w!, p!);
        return grad.matmul(h, grad.firstRows(w!, C), { transposeB: true, bias: grad.firstRows(b!, C) });
      },
      (tf) => (w, p, b) => {
        const h = tf.add(tf.reshape(tf.gather(w!, tf.tensor1d(ids, 'int32')), [B * L, H]), tf.tile(p!, [B, 1]));
        const logits = tf.add(tf.matMul(h, tf.slice(w!, [0, 0], [C, H]), false, true), tf.slice(b!, [0], [C]));
        return tf.reshape(logits, [B, L, C]);
      },
      'tied head',
    );
  });
});

describe('portable paths (subgroups disabled): LayerNorm rows, attention forward with lse', () => {
  it('LayerNorm and attention gradients match tfjs-core', async () => {
    const engine = await createEngine({ disableFeatures: ['subgroups'] });
    const [B, L, heads, d] = [2, 65, 4, 8];
    const H = heads * d;
    await compareVJP(
      [uniform(B * L * 3 * H, 5, -2, 2)],
      [[B, L, 3 * H]],
      ([qkv]) => grad.attention(qkv!, { heads }),
      (tf) => (qkv) => tfAttention(tf, qkv!, heads),
      'attention (portable)',
      { atol: 2e-5, rtol: 2e-4 },
      engine,
    );
    await compareVJP(
      [uniform(17 * 257, 1, -2, 3), uniform(257, 2, 0.5, 1.5), uniform(257, 3)],
      [[17, 257], [257], [257]],
      ([x, s, b]) => grad.layerNorm(x!, s!, b!, { eps: 1e-12 }),
      (tf) => (x, s, b) => tfLayerNorm(tf, x!, s!, b!, 1e-12),
      'layerNorm (portable)',
      { atol: 2e-5, rtol: 2e-4 },
      engine,
    );
    engine.destroy();
  });
});
