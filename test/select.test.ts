import { describe, expect, it } from 'vitest';
import { kthSmallest, remaskByConfidence, SINGLE_DISPATCH_MAX } from '../src/node.js';
import { getEngine } from './helpers/engine.js';
import { oracle } from './helpers/oracle.js';
import { normal, randomInts, rng } from './helpers/random.js';

const LENGTHS = [1, 3, 17, 257, 1025, 2048, 2049, 4096];

/** Rows of confidences: continuous values, a few ties, +inf (known positions) and -inf. */
function confidences(rows: number, n: number, seed: number, kind: 'random' | 'ties'): Float32Array {
  const r = rng(seed);
  const v = normal(rows * n, seed, 3);
  for (let i = 0; i < v.length; i++) {
    if (kind === 'ties') v[i] = [-2, -0.5, 0, 0.25, 3][Math.floor(r() * 5)]!;
    const u = r();
    if (u < 0.05) v[i] = Infinity;
    else if (u < 0.06) v[i] = -Infinity;
  }
  return v;
}

function hostKth(values: Float32Array, rows: number, n: number, ranks: Int32Array): Float32Array {
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const sorted = Float32Array.from(values.subarray(r * n, (r + 1) * n)).sort();
    const k = Math.max(0, ranks[r]!);
    out[r] = k >= n ? Infinity : sorted[k]!;
  }
  return out;
}

describe('kthSmallest: radix select against a host sort (and tfjs topk)', () => {
  for (const n of LENGTHS) {
    for (const kind of ['random', 'ties'] as const) {
      it(`rows of ${n} (${kind})${n > SINGLE_DISPATCH_MAX ? ', multi-pass' : ''}`, async () => {
        const engine = await getEngine();
        const rows = 7;
        const values = confidences(rows, n, n * 31 + (kind === 'ties' ? 1 : 0), kind);
        // Ranks: the ends, just past the end, a negative one, and random ones.
        const ranks = Int32Array.from([0, n - 1, n, -3, ...randomInts(rows - 4, n + 5, 0, n)]);
        const expected = hostKth(values, rows, n, ranks);
        // The project's oracle agrees with the host sort: tfjs topk of -x gives the smallest.
        const tf = await oracle();
        for (let r = 0; r < rows; r++) {
          const k = Math.max(0, ranks[r]!);
          if (k >= n) continue;
          const smallest = tf.neg(tf.topk(tf.neg(tf.tensor(values.subarray(r * n, (r + 1) * n))), k + 1).values).dataSync();
          expect(smallest[k]).toBe(expected[r]);
        }
        const v = engine.tensor(values, [rows, n]);
        const k = engine.tensor(ranks, [rows], 'i32');
        const paths = n <= SINGLE_DISPATCH_MAX ? [false, true] : [true];
        for (const multiPass of paths) {
          const got = await kthSmallest(v, k, { multiPass }).read();
          expect([...got], `multiPass ${multiPass}`).toEqual([...expected]);
        }
      });
    }
  }

  it('many rows in one call (2-D grid of rows), both paths', async () => {
    const engine = await getEngine();
    const rows = 300;
    const n = 33;
    const values = confidences(rows, n, 5, 'random');
    const ranks = randomInts(rows, 6, 0, n);
    const v = engine.tensor(values, [rows, n]);
    const k = engine.tensor(ranks, [rows], 'i32');
    const expected = [...hostKth(values, rows, n, ranks)];
    expect([...(await kthSmallest(v, k).read())]).toEqual(expected);
    expect([...(await kthSmallest(v, k, { multiPass: true }).read())]).toEqual(expected);
  });
});

/** The official rule on the host: see src/maskgit/reference.ts for the full decode. */
function hostRemask(
  conf: Float32Array,
  sampled: Int32Array,
  tokens: Int32Array,
  cuts: Int32Array,
  step: number,
  rows: number,
  n: number,
  maskId: number,
): Int32Array {
  const out = Int32Array.from(tokens);
  for (let r = 0; r < rows; r++) {
    const row = (a: ArrayLike<number>, i: number) => a[r * n + i]!;
    let unknown = 0;
    for (let i = 0; i < n; i++) if (row(tokens, i) === maskId) unknown++;
    const maskLen = Math.max(1, Math.min(unknown - 1, cuts[step * rows + r]!));
    const sorted = Float32Array.from(conf.subarray(r * n, (r + 1) * n)).sort();
    const cutoff = maskLen >= n ? Infinity : sorted[maskLen]!;
    for (let i = 0; i < n; i++) {
      if (row(tokens, i) !== maskId) continue;
      out[r * n + i] = row(conf, i) < cutoff ? maskId : row(sampled, i);
    }
  }
  return out;
}

describe('remaskByConfidence: the official re-masking rule', () => {
  const maskId = 99;
  for (const n of [1, 3, 17, 257, 1025, 2048, 4097]) {
    for (const kind of ['random', 'ties'] as const) {
      it(`rows of ${n} (${kind}), mirrored and not`, async () => {
        const engine = await getEngine();
        const rows = 3;
        const r = rng(n + 17);
        const tokens = new Int32Array(rows * n);
        const conf = confidences(rows, n, n + 3, kind);
        for (let i = 0; i < tokens.length; i++) {
          const known = r() < 0.3;
          tokens[i] = known ? Math.floor(r() * 50) : maskId;
          if (known) conf[i] = Infinity;
          else if (!Number.isFinite(conf[i]!)) conf[i] = -1; // unknown positions have finite confidence
        }
        const sampled = Int32Array.from(tokens, (t) => (t === maskId ? Math.floor(r() * 50) : t));
        const cuts = Int32Array.from([...randomInts(rows, n, 0, n + 2), 0, n, 1]); // step 1: the clamps
        for (const step of [0, 1]) {
          const expected = hostRemask(conf, sampled, tokens, cuts, step, rows, n, maskId);
          const paths = n <= SINGLE_DISPATCH_MAX ? [false, true] : [true];
          for (const multiPass of paths) {
            for (const mirror of [false, true]) {
              const init = mirror ? Int32Array.from([...tokens, ...tokens]) : tokens;
              const t = engine.tensor(init, [mirror ? 2 * rows : rows, n], 'i32');
              remaskByConfidence(engine.tensor(conf, [rows, n]), engine.tensor(sampled, [rows, n], 'i32'), t, engine.tensor(cuts, [2, rows], 'i32'), {
                maskTokenId: maskId,
                step,
                mirror,
                multiPass,
              });
              const got = await t.read();
              const what = `step ${step} multiPass ${multiPass} mirror ${mirror}`;
              expect([...got.subarray(0, rows * n)], what).toEqual([...expected]);
              if (mirror) expect([...got.subarray(rows * n)], what).toEqual([...expected]);
            }
          }
        }
      });
    }
  }
});
