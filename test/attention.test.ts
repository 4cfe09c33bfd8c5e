import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, ops, ShapeError, type Engine } from '../src/node.js';
import { expectClose, maxAbsError } from './helpers/compare.js';
import { getEngine } from './helpers/engine.js';
import { oracle } from './helpers/oracle.js';
import { uniform } from './helpers/random.js';

type Tf = Awaited<ReturnType<typeof oracle>>;

/**
 * softmax(q k^T * scale) v composed from tfjs-core CPU ops, for q [B, Lq, H] and k, v
 * [B, Lk, H] (only the first kvLength keys used); causal: query i sees keys j <= i + kvLength - Lq.
 */
function reference(
  tf: Tf,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dims: { batch: number; lq: number; lk: number; kvLength?: number; hidden: number; heads: number; causal?: boolean },
): Float32Array {
  const { batch, lq, lk, hidden, heads } = dims;
  const kv = dims.kvLength ?? lk;
  const d = hidden / heads;
  return tf.tidy(() => {
    const split = (x: Float32Array, rows: number, keep: number) =>
      tf.reshape(tf.transpose(tf.slice(tf.tensor(x, [batch, rows, heads, d]), [0, 0, 0, 0], [batch, keep, heads, d]), [0, 2, 1, 3]), [batch * heads, keep, d]);
    const qh = split(q, lq, lq);
    const kh = split(k, lk, kv);
    const vh = split(v, lk, kv);
    let scores = tf.mul(tf.matMul(qh, kh, false, true), 1 / Math.sqrt(d));
    if (dims.causal) {
      const mask = new Float32Array(lq * kv).map((_, n) => (n % kv <= Math.floor(n / kv) + kv - lq ? 0 : -1e30));
      scores = tf.add(scores, tf.tensor(mask, [1, lq, kv]));
    }
    const out = tf.transpose(tf.reshape(tf.matMul(tf.softmax(scores), vh), [batch, heads, lq, d]), [0, 2, 1, 3]);
    return out.dataSync() as Float32Array;
  });
}

/** Columns [from, from + width) of a row-major [rows, cols] array. */
function columns(x: Float32Array, cols: number, from: number, width: number): Float32Array {
  const rows = x.length / cols;
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(x.subarray(r * cols + from, r * cols + from + width), r * width);
  return out;
}

// f32 throughout; ours sums in another order and uses exp2 on pre-scaled scores. The output is
// a convex combination of v, so its error is the weights' relative error times |v|. A score's
// rounding error grows with |q||k| (the dot product's terms), so for inputs in [-r, r] the
// error grows like r^3: 2e-6 at r = 1 (observed: 1.5e-7 at L 1025), 2e-6 * r^3 beyond.
const TOL = { atol: 2e-6, rtol: 1e-5 };
const tolerance = (range: number) => ({ atol: TOL.atol * Math.max(1, range) ** 3, rtol: TOL.rtol });

const SELF_CASES: { batch: number; length: number; heads: number; headDim: number; range?: number }[] = [
  { batch: 1, length: 1, heads: 1, headDim: 4 },
  { batch: 1, length: 3, heads: 2, headDim: 8 },
  { batch: 2, length: 17, heads: 4, headDim: 8 },
  { batch: 1, length: 17, heads: 3, headDim: 6 }, // head width not a multiple of 4: scalar path
  { batch: 2, length: 33, heads: 2, headDim: 1 },
  { batch: 1, length: 65, heads: 2, headDim: 64 },
  { batch: 2, length: 100, heads: 2, headDim: 48, range: 6 }, // large scores: the max subtraction matters
  { batch: 1, length: 257, heads: 16, headDim: 48 }, // official
];

function checkSelfAttention(getTestEngine: () => Promise<Engine>, label: string) {
  describe(`attention over a fused QKV projection (oracle: tfjs-core CPU), ${label}`, () => {
    for (const c of SELF_CASES) {
      for (const causal of [false, true]) {
          it(`B${c.batch} L${c.length} ${c.heads}x${c.headDim}${causal ? ' causal' : ''}`, async () => {
            const engine = await getTestEngine();
            const tf = await oracle();
            const hidden = c.heads * c.headDim;
            const range = c.range ?? 1;
            const data = uniform(c.batch * c.length * 3 * hidden, c.length * 31 + c.headDim, -range, range);
            const qkv = engine.tensor(data, [c.batch, c.length, 3 * hidden]);
            const out = ops.attention(qkv, { heads: c.heads, causal });
            expect(out.shape).toEqual([c.batch, c.length, hidden]);
            const [q, k, v] = [0, 1, 2].map((n) => columns(data, 3 * hidden, n * hidden, hidden)) as [Float32Array, Float32Array, Float32Array];
            const expected = reference(tf, q, k, v, { batch: c.batch, lq: c.length, lk: c.length, hidden, heads: c.heads, causal });
            expectClose(await out.read(), expected, tolerance(range), 'attention');
            qkv.dispose();
            out.dispose();
          });
      }
    }
  });
}

checkSelfAttention(getEngine, 'default engine (subgroups where the adapter has them)');

let portable: Engine | null = null;
beforeAll(async () => {
  portable = await createEngine({ disableFeatures: ['subgroups'] });
});
afterAll(() => portable?.destroy());
checkSelfAttention(async () => portable!, 'portable engine (no subgroups)');

describe('attention at 512 px length', () => {
  it('B1 L1025 16x48 matches the oracle', async () => {
    const engine = await getEngine();
    const tf = await oracle();
    const [length, heads, headDim] = [1025, 16, 48];
    const hidden = heads * headDim;
    const data = uniform(length * 3 * hidden, 1025, -1, 1);
    const qkv = engine.tensor(data, [1, length, 3 * hidden]);
    const out = ops.attention(qkv, { heads });
    const [q, k, v] = [0, 1, 2].map((n) => columns(data, 3 * hidden, n * hidden, hidden)) as [Float32Array, Float32Array, Float32Array];
    const expected = reference(tf, q, k, v, { batch: 1, lq: length, lk: length, hidden, heads });
    const got = await out.read();
    expectClose(got, expected, TOL, 'attention L1025');
    console.log(`attention L1025 16x48: max abs error ${maxAbsError(got, expected).error.toExponential(2)}`);
  });
});

describe('attention with lane groups smaller than the subgroup', () => {
  // On an adapter whose subgroups hold several lane groups (GPUs with 32-wide subgroups), each
  // group loads its own copy of the k/v chunks and broadcasts come from the first group.
  for (const [batch, length, heads, headDim] of [
    [1, 257, 16, 48],
    [2, 17, 4, 8],
    [1, 33, 3, 6],
  ] as const) {
    it(`B${batch} L${length} ${heads}x${headDim} with groups of 4 lanes`, async () => {
      const engine = await getEngine();
      if (!engine.hasSubgroups || (engine.info.subgroupMinSize ?? 0) < 8) return;
      const tf = await oracle();
      const hidden = heads * headDim;
      const data = uniform(batch * length * 3 * hidden, length + headDim, -1, 1);
      const out = ops.attention(engine.tensor(data, [batch, length, 3 * hidden]), { heads, laneGroup: 4 });
      const [q, k, v] = [0, 1, 2].map((n) => columns(data, 3 * hidden, n * hidden, hidden)) as [Float32Array, Float32Array, Float32Array];
      expectClose(await out.read(), reference(tf, q, k, v, { batch, lq: length, lk: length, hidden, heads }), TOL, 'attention, groups of 4');
    });
  }
});

describe('attention of separate q, k, v (KV cache)', () => {
  for (const subgroups of [true, false]) {
    const path = subgroups ? 'subgroup path' : 'portable path';
    it(`one query over a cache of 40 rows with 23 filled, causal, ${path}`, async () => {
      const engine = await getEngine();
      const tf = await oracle();
      const [batch, lk, kvLength, heads, headDim] = [2, 40, 23, 4, 12];
      const hidden = heads * headDim;
      const qv = uniform(batch * hidden, 5);
      const kv = uniform(batch * lk * hidden, 6);
      const vv = uniform(batch * lk * hidden, 7);
      // Rows past kvLength hold garbage that must not leak into the result.
      for (let b = 0; b < batch; b++) kv.fill(1e6, (b * lk + kvLength) * hidden, (b + 1) * lk * hidden);
      const out = ops.attentionQKV(engine.tensor(qv, [batch, 1, hidden]), engine.tensor(kv, [batch, lk, hidden]), engine.tensor(vv, [batch, lk, hidden]), {
        heads,
        causal: true,
        kvLength,
        
      });
      const expected = reference(tf, qv, kv, vv, { batch, lq: 1, lk, kvLength, hidden, heads, causal: true });
      expectClose(await out.read(), expected, TOL, 'cached attention');
    });

    it(`5 queries over 9 keys, bidirectional and causal, ${path}`, async () => {
      const engine = await getEngine();
      const tf = await oracle();
      const [batch, lq, lk, heads, headDim] = [3, 5, 9, 2, 16];
      const hidden = heads * headDim;
      const [qv, kv, vv] = [uniform(batch * lq * hidden, 8), uniform(batch * lk * hidden, 9), uniform(batch * lk * hidden, 10)];
      const [q, k, v] = [engine.tensor(qv, [batch, lq, hidden]), engine.tensor(kv, [batch, lk, hidden]), engine.tensor(vv, [batch, lk, hidden])];
      for (const causal of [false, true]) {
        const out = ops.attentionQKV(q, k, v, { heads, causal });
        const expected = reference(tf, qv, kv, vv, { batch, lq, lk, hidden, heads, causal });
        expectClose(await out.read(), expected, TOL, `cross attention causal=${causal}`);
      }
    });
  }
});

describe('attention in f16 storage', () => {
  it('B2 L17 4x16 agrees with the f32 oracle on the f16-rounded inputs', async () => {
    const engine = await getEngine();
    if (!engine.hasF16) return;
    const tf = await oracle();
    const [batch, length, heads, headDim] = [2, 17, 4, 16];
    const hidden = heads * headDim;
    const qkv = engine.tensor(uniform(batch * length * 3 * hidden, 99), [batch, length, 3 * hidden], 'f16');
    const rounded = Float32Array.from(await qkv.read());
    const [q, k, v] = [0, 1, 2].map((n) => columns(rounded, 3 * hidden, n * hidden, hidden)) as [Float32Array, Float32Array, Float32Array];
    const expected = reference(tf, q, k, v, { batch, lq: length, lk: length, hidden, heads });
    for (const strategy of ['rows', 'split'] as const) {
      const out = ops.attention(qkv, { heads });
      expect(out.dtype).toBe('f16');
      // f32 arithmetic; only the output is rounded to f16 (11-bit significand, |out| < 1).
      expectClose(await out.read(), expected, { atol: 5e-4, rtol: 1e-3 }, `f16 ${strategy}`);
    }
  });
});

describe('attention argument checks', () => {
  it('rejects bad shapes with ShapeError', async () => {
    const engine = await getEngine();
    expect(() => ops.attention(engine.tensor(new Float32Array(2 * 3 * 10), [2, 3, 10]), { heads: 2 })).toThrow(ShapeError);
    expect(() => ops.attention(engine.tensor(new Float32Array(2 * 3 * 12), [2, 3, 12]), { heads: 3 })).toThrow(/heads do not divide/);
    const q = engine.tensor(new Float32Array(8), [1, 1, 8]);
    const k = engine.tensor(new Float32Array(16), [1, 2, 8]);
    expect(() => ops.attentionQKV(q, k, k, { heads: 2, kvLength: 3 })).toThrow(/kvLength/);
  });
});
