import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, ops, ShapeError, type Engine } from '../src/node.js';
import { expectClose } from './helpers/compare.js';
import { getEngine } from './helpers/engine.js';
import { oracle } from './helpers/oracle.js';
import { normal, randomInts, uniform } from './helpers/random.js';

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

let portable: Engine | null = null;
beforeAll(async () => {
  portable = await createEngine({ disableFeatures: ['subgroups'] });
});
afterAll(() => portable?.destroy());

const ENGINES: [string, () => Promise<Engine>][] = [
  ['subgroups where available', getEngine],
  ['portable', async () => portable!],
];

describe('layerNorm over the last axis (oracle: tfjs-core CPU)', () => {
  const SHAPES = [[1], [3], [17], [3, 1], [257, 768], [2, 17, 1025], [1025, 3], [5, 2025]];
  for (const [label, get] of ENGINES) {
    for (const shape of SHAPES) {
      for (const eps of [1e-12, 1e-5]) {
        it(`[${shape}] eps ${eps} (${label})`, async () => {
          const engine = await get();
          const tf = await oracle();
          const cols = shape[shape.length - 1]!;
          const xv = normal(size(shape), size(shape) + cols, 2);
          const sv = uniform(cols, 3, 0.5, 1.5);
          const bv = uniform(cols, 4, -0.5, 0.5);
          const out = ops.layerNorm(engine.tensor(xv, shape), engine.tensor(sv, [cols]), engine.tensor(bv, [cols]), { eps });
          expect(out.shape).toEqual(shape);
          const expected = tf.tidy(() => {
            const x = tf.tensor(xv, shape);
            const { mean, variance } = tf.moments(x, -1, true);
            return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), tf.tensor(sv)), tf.tensor(bv)).dataSync();
          });
          // f32 statistics summed in another order; normalised values are O(1) (|y| < 6 here),
          // except a constant row (cols 1): x - mean is exactly 0 in both, so out = bias.
          expectClose(await out.read(), expected, { atol: 1e-5, rtol: 1e-5 }, 'layerNorm');
        });
      }
    }
  }

  it('stays accurate when |mean| >> std with eps 1e-12 (two-pass variance)', async () => {
    const engine = await getEngine();
    const cols = 768;
    const noise = normal(4 * cols, 12, 1e-2);
    const xv = noise.map((v, i) => 1000 + (i % 7) + v);
    const out = await ops.layerNorm(engine.tensor(xv, [4, cols]), engine.tensor(new Float32Array(cols).fill(1), [cols]), engine.tensor(new Float32Array(cols), [cols]), { eps: 1e-12 }).read();
    // Reference in float64 from the same f32 inputs. One-pass E[x^2] - E[x]^2 in f32 would lose
    // every digit here (x^2 ~ 1e6, variance ~ 4); the two-pass result keeps ~1e-4.
    const expected = new Float64Array(4 * cols);
    for (let r = 0; r < 4; r++) {
      const row = Array.from(xv.subarray(r * cols, (r + 1) * cols));
      const mean = row.reduce((a, b) => a + b, 0) / cols;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / cols;
      row.forEach((v, c) => (expected[r * cols + c] = (v - mean) / Math.sqrt(variance + 1e-12)));
    }
    // x itself carries f32 rounding of ~6e-5 at 1000, i.e. 3e-5 of a std of ~2.
    expectClose(out, expected, { atol: 2e-4 }, 'layerNorm large mean');
  });

  it('f16 storage (x f16; scale and bias f16 or f32) agrees with the f32 oracle', async () => {
    const engine = await getEngine();
    if (!engine.hasF16) return;
    const tf = await oracle();
    const [rows, cols] = [17, 768];
    const x = engine.tensor(normal(rows * cols, 21), [rows, cols], 'f16');
    const xv = Float32Array.from(await x.read());
    const sv = uniform(cols, 22, 0.5, 1.5);
    const bv = uniform(cols, 23, -0.5, 0.5);
    const expected = tf.tidy(() => {
      const t = tf.tensor(xv, [rows, cols]);
      const { mean, variance } = tf.moments(t, -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, 1e-12))), tf.tensor(sv)), tf.tensor(bv)).dataSync();
    });
    for (const pdtype of ['f32', 'f16'] as const) {
      const scale = engine.tensor(sv, [cols], pdtype);
      const bias = engine.tensor(bv, [cols], pdtype);
      const out = ops.layerNorm(x, scale, bias, { eps: 1e-12 });
      expect(out.dtype).toBe('f16');
      // The output (|y| < 8) is rounded to f16: 2^-8 relative; f16 scale/bias add as much again.
      expectClose(await out.read(), expected, { atol: 4e-3, rtol: 8e-3 }, `layerNorm f16 (params ${pdtype})`);
    }
  });

  it('rejects mismatched scale/bias with a ShapeError', async () => {
    const engine = await getEngine();
    const x = engine.tensor(new Float32Array(12), [3, 4]);
    expect(() => ops.layerNorm(x, engine.tensor(new Float32Array(3), [3]), engine.tensor(new Float32Array(4), [4]))).toThrow(ShapeError);
  });
});

describe('softmax over the last axis (oracle: tfjs-core CPU)', () => {
  const SHAPES = [[1], [3], [17], [2, 1025], [5, 2025], [16 * 257, 257]];
  for (const [label, get] of ENGINES) {
    for (const shape of SHAPES) {
      it(`[${shape}] (${label})`, async () => {
        const engine = await get();
        const tf = await oracle();
        // Values up to +-60: exp would overflow f32 without the max subtraction.
        const xv = uniform(size(shape), size(shape) + 5, -60, 60);
        const out = ops.softmax(engine.tensor(xv, shape));
        const expected = tf.tidy(() => tf.softmax(tf.tensor(xv, shape)).dataSync());
        // Probabilities in [0, 1]; f32 exp and a sum in another order: ~1e-6 relative.
        expectClose(await out.read(), expected, { atol: 1e-7, rtol: 1e-5 }, 'softmax');
      });
    }
  }

  it('f16 storage', async () => {
    const engine = await getEngine();
    if (!engine.hasF16) return;
    const tf = await oracle();
    const x = engine.tensor(uniform(17 * 257, 31, -8, 8), [17, 257], 'f16');
    const xv = Float32Array.from(await x.read());
    const out = ops.softmax(x);
    expect(out.dtype).toBe('f16');
    // Output rounded to f16: 2^-11 relative, and f16's subnormals below 6e-5.
    expectClose(await out.read(), tf.softmax(tf.tensor(xv, [17, 257])).dataSync(), { atol: 1e-6, rtol: 1e-3 }, 'softmax f16');
  });
});

describe('GELU and ReLU (oracle: tfjs-core CPU)', () => {
  const GELU_SIZES = [1, 3, 17, 257, 1025, 257 * 3072, 1023];
  for (const n of GELU_SIZES) {
    it(`gelu tanh and erf, relu on ${n} values`, async () => {
      const engine = await getEngine();
      const tf = await oracle();
      const xv = uniform(n, n + 9, -12, 12);
      if (n > 8) xv.set([0, -0, 1e-20, -1e-20, 30, -30, 88, -88]);
      const x = engine.tensor(xv, [n]);
      const [tanhOut, erfOut, reluOut] = await Promise.all([ops.gelu(x, 'tanh').read(), ops.gelu(x, 'erf').read(), ops.activation(x, 'relu').read()]);
      const [tanhRef, erfRef, reluRef] = tf.tidy(() => {
        const t = tf.tensor(xv);
        const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(t, tf.mul(0.044715, tf.pow(t, 3))));
        return [
          tf.mul(tf.mul(0.5, t), tf.add(1, tf.tanh(inner))).dataSync(),
          tf.mul(tf.mul(0.5, t), tf.add(1, tf.erf(tf.div(t, Math.SQRT2)))).dataSync(),
          tf.relu(t).dataSync(),
        ];
      });
      // Same formulas in f32 (ours: x * sigmoid(2u) for tanh, erfc without cancellation for
      // erf; both erf forms use the A&S 7.1.26 polynomial, |error| <= 1.5e-7). The oracle's
      // 1 + tanh/erf cancels in the negative tail, where it is off by up to ~1e-7 * |x|.
      expectClose(tanhOut, tanhRef!, { atol: 2e-6, rtol: 1e-5 }, 'gelu tanh');
      expectClose(erfOut, erfRef!, { atol: 2e-6, rtol: 1e-5 }, 'gelu erf');
      expectClose(reluOut, reluRef!, { atol: 0 }, 'relu');
    });
  }

  it('gelu f16 storage', async () => {
    const engine = await getEngine();
    if (!engine.hasF16) return;
    const x = engine.tensor(uniform(1025, 41, -6, 6), [1025], 'f16');
    const xv = await x.read();
    const out = await ops.gelu(x).read();
    const expected = xv.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
    expectClose(out, expected, { atol: 1e-3, rtol: 1e-3 }, 'gelu f16'); // f16 output rounding
  });
});

describe('embedding: word[token] + position (oracle: tfjs-core CPU)', () => {
  for (const [batch, length, vocab, hidden] of [
    [1, 1, 5, 4],
    [2, 17, 50, 32],
    [3, 257, 2025, 768],
    [1, 1025, 7, 3],
  ] as const) {
    it(`B${batch} L${length} vocab ${vocab} hidden ${hidden}`, async () => {
      const engine = await getEngine();
      const tf = await oracle();
      const ids = randomInts(batch * length, vocab + length, 0, vocab);
      const wv = normal(vocab * hidden, 1);
      const pv = normal((length + 3) * hidden, 2);
      const out = ops.embedding(engine.tensor(ids, [batch, length], 'i32'), engine.tensor(wv, [vocab, hidden]), engine.tensor(pv, [length + 3, hidden]));
      expect(out.shape).toEqual([batch, length, hidden]);
      const expected = tf.tidy(() =>
        tf.add(tf.reshape(tf.gather(tf.tensor(wv, [vocab, hidden]), tf.tensor(ids, [batch * length], 'int32')), [batch, length, hidden]), tf.slice(tf.tensor(pv, [length + 3, hidden]), [0, 0], [length, hidden])).dataSync(),
      );
      expectClose(await out.read(), expected, { atol: 0 }, 'embedding'); // one f32 add, same as the oracle
    });
  }

  it('bad ids never read out of bounds: -1 is the last row, others are clamped', async () => {
    const engine = await getEngine();
    const [vocab, hidden] = [6, 4];
    const wv = Float32Array.from({ length: vocab * hidden }, (_, i) => Math.floor(i / hidden) * 10);
    const pv = new Float32Array(6 * hidden);
    const ids = [-1, 6, 1000, -7, -100, 2];
    const out = await ops.embedding(engine.tensor(ids, [1, 6], 'i32'), engine.tensor(wv, [vocab, hidden]), engine.tensor(pv, [6, hidden])).read();
    const rows = Array.from({ length: 6 }, (_, l) => out[l * hidden]);
    expect(rows).toEqual([50, 50, 50, 0, 0, 20]);
  });

  it('rejects sequences longer than the position table', async () => {
    const engine = await getEngine();
    const tokens = engine.tensor([1, 2, 3], [1, 3], 'i32');
    expect(() => ops.embedding(tokens, engine.tensor(new Float32Array(8), [2, 4]), engine.tensor(new Float32Array(8), [2, 4]))).toThrow(/exceeds/);
  });
});

describe('sliceLastAxis', () => {
  for (const [shape, start, width] of [
    [[2, 17, 2025], 0, 1024],
    [[1, 1, 3], 1, 2],
    [[257, 50], 7, 43],
    [[3, 5], 2, 0],
  ] as const) {
    it(`[${shape}] columns ${start}..${start + width}`, async () => {
      const engine = await getEngine();
      const tf = await oracle();
      const xv = uniform(size(shape), 5);
      const out = ops.sliceLastAxis(engine.tensor(xv, [...shape]), start, width);
      const begin = shape.map((_, i) => (i === shape.length - 1 ? start : 0));
      const extent = shape.map((d, i) => (i === shape.length - 1 ? width : d));
      expect(out.shape).toEqual(extent);
      expectClose(await out.read(), tf.slice(tf.tensor(xv, [...shape]), begin, extent).dataSync(), { atol: 0 }, 'slice');
    });
  }

  it('slices i32 and rejects ranges outside the axis', async () => {
    const engine = await getEngine();
    const x = engine.tensor([1, 2, 3, 4, 5, 6], [2, 3], 'i32');
    expect([...(await ops.sliceLastAxis(x, 1, 2).read())]).toEqual([2, 3, 5, 6]);
    expect(() => ops.sliceLastAxis(x, 2, 2)).toThrow(ShapeError);
  });
});
