import { describe, expect, it } from 'vitest';
import { ops, ShapeError, type DType } from '../src/node.js';
import { expectClose } from './helpers/compare.js';
import { getEngine } from './helpers/engine.js';
import { oracle } from './helpers/oracle.js';
import { randomInts, uniform } from './helpers/random.js';

const BROADCAST_CASES: [number[], number[]][] = [
  [[1], [1]],
  [[3], [3]],
  [[17], [1]],
  [[257, 3], [3]],
  [[4, 1, 5], [3, 1]],
  [[2, 3, 4, 5], [1, 3, 1, 5]],
  [[1025], [1025]],
  [[7, 1], [1, 9]],
  [[2, 1, 3, 1, 2, 1, 3, 2], [3, 1, 2, 1, 1]],
];

describe('elementwise binary ops (oracle: tfjs-core CPU)', () => {
  for (const [sa, sb] of BROADCAST_CASES) {
    it(`add/sub/mul/div/maximum f32 [${sa}] . [${sb}]`, async () => {
      const engine = await getEngine();
      const tf = await oracle();
      const na = sa.reduce((x, y) => x * y, 1);
      const nb = sb.reduce((x, y) => x * y, 1);
      const av = uniform(na, na * 7 + 1);
      const bv = uniform(nb, nb * 13 + 2, 0.5, 2);
      const a = engine.tensor(av, sa);
      const b = engine.tensor(bv, sb);
      const ta = tf.tensor(av, sa);
      const tb = tf.tensor(bv, sb);
      const cases = [
        [ops.add, tf.add],
        [ops.sub, tf.sub],
        [ops.mul, tf.mul],
        [ops.div, tf.div],
        [ops.maximum, tf.maximum],
      ] as const;
      for (const [ours, theirs] of cases) {
        const out = ours(a, b);
        const ref = theirs(ta, tb);
        expect(out.shape).toEqual(ref.shape);
        expectClose(await out.read(), ref.dataSync(), { atol: 1e-6, rtol: 1e-6 }, `${ours.name} [${sa}] . [${sb}]`);
        out.dispose();
        ref.dispose();
      }
      a.dispose();
      b.dispose();
    });
  }

  it('works on i32, u32 and f16 storage', async () => {
    const engine = await getEngine();
    const ai = randomInts(1025, 1, -1000, 1000);
    const bi = randomInts(1025, 2, -1000, 1000);
    const out = ops.mul(engine.tensor(ai, [1025], 'i32'), engine.tensor(bi, [1025], 'i32'));
    expect([...(await out.read())]).toEqual([...ai].map((x, i) => (x * bi[i]!) | 0));
    const au = Uint32Array.from(randomInts(17, 3, 0, 5000));
    const bu = Uint32Array.from(randomInts(17, 4, 0, 5000));
    const outU = ops.add(engine.tensor(au, [17], 'u32'), engine.tensor(bu, [17, 1], 'u32'));
    expect(outU.shape).toEqual([17, 17]);
    const gotU = await outU.read();
    expect(gotU[3 * 17 + 5]).toBe(au[5]! + bu[3]!);
    if (engine.hasF16) {
      const af = uniform(257, 5);
      const bf = uniform(3, 6);
      const h = ops.add(engine.tensor(af, [257, 1], 'f16'), engine.tensor(bf, [3], 'f16'));
      const got = await h.read();
      const expected = new Float32Array(257 * 3).map((_, k) => af[Math.floor(k / 3)]! + bf[k % 3]!);
      expectClose(got, expected, { atol: 2e-3, rtol: 2e-3 }, 'f16 add'); // f16 has an 11-bit significand
    }
  });

  it('rejects mismatched shapes and dtypes with a ShapeError', async () => {
    const engine = await getEngine();
    const a = engine.tensor([1, 2, 3], [3]);
    expect(() => ops.add(a, engine.tensor([1, 2], [2]))).toThrow(ShapeError);
    expect(() => ops.add(a, engine.tensor([1, 2, 3], [3], 'i32'))).toThrow(/dtypes differ/);
  });
});

describe('cast (oracle: tfjs-core CPU)', () => {
  const pairs: [DType, DType][] = [
    ['f32', 'i32'],
    ['i32', 'f32'],
    ['f32', 'u32'],
    ['u32', 'f32'],
    ['f32', 'f16'],
    ['f16', 'f32'],
    ['i32', 'u32'],
  ];
  for (const [from, to] of pairs) {
    it(`${from} -> ${to}`, async () => {
      const engine = await getEngine();
      if ((from === 'f16' || to === 'f16') && !engine.hasF16) return;
      const tf = await oracle();
      const values = from === 'u32' ? uniform(1025, 9, 0, 1e6) : uniform(1025, 9, -1e3, 1e3);
      const src = from === 'f32' || from === 'f16' ? values : values.map(Math.trunc);
      const a = engine.tensor(src, [1025], from);
      const out = ops.cast(a, to);
      expect(out.dtype).toBe(to);
      const got = await out.read();
      const input = Float32Array.from(await a.read()); // f16 inputs are already rounded
      let expected: ArrayLike<number>;
      if (to === 'i32') expected = tf.cast(tf.tensor(input), 'int32').dataSync();
      else if (to === 'u32') expected = Float64Array.from(input, (v) => (from === 'i32' ? v >>> 0 : Math.max(0, Math.trunc(v))));
      else expected = tf.cast(tf.tensor(input), 'float32').dataSync();
      expectClose(got, expected, { atol: to === 'f16' ? 0.5 : 0, rtol: to === 'f16' ? 1e-3 : 0 }, `${from}->${to}`);
    });
  }
});

describe('sum and max over the last axis (oracle: tfjs-core CPU)', () => {
  for (const shape of [[1], [3], [17], [257], [1025], [3, 1], [17, 257], [5, 3, 1025], [2, 40000]]) {
    it(`[${shape}]`, async () => {
      const engine = await getEngine();
      const tf = await oracle();
      const n = shape.reduce((x, y) => x * y, 1);
      const v = uniform(n, n + 3);
      const a = engine.tensor(v, shape);
      const s = ops.sum(a);
      const m = ops.max(a, { keepDims: true });
      expect(s.shape).toEqual(shape.slice(0, -1));
      expect(m.shape).toEqual([...shape.slice(0, -1), 1]);
      const cols = shape[shape.length - 1]!;
      // f32 accumulation in a different order: error grows like sqrt(cols) ulps.
      expectClose(await s.read(), tf.sum(tf.tensor(v, shape), -1).dataSync(), { atol: 1e-6 * cols, rtol: 1e-5 }, 'sum');
      expectClose(await m.read(), tf.max(tf.tensor(v, shape), -1).dataSync(), { atol: 0 }, 'max');
    });
  }

  it('sums integers exactly', async () => {
    const engine = await getEngine();
    const v = randomInts(3 * 1025, 11, -50000, 50000);
    const s = await ops.sum(engine.tensor(v, [3, 1025], 'i32')).read();
    for (let r = 0; r < 3; r++) expect(s[r]).toBe(v.slice(r * 1025, (r + 1) * 1025).reduce((x, y) => x + y, 0));
  });
});

describe('portable paths (no subgroups)', () => {
  it('sum and max agree with the oracle without the subgroups feature', async () => {
    const { createEngine } = await import('../src/node.js');
    const portable = await createEngine({ disableFeatures: ['subgroups'] });
    expect(portable.hasSubgroups).toBe(false);
    const tf = await oracle();
    const v = uniform(17 * 1025, 77);
    const a = portable.tensor(v, [17, 1025]);
    expectClose(await ops.sum(a).read(), tf.sum(tf.tensor(v, [17, 1025]), -1).dataSync(), { atol: 1e-3, rtol: 1e-5 }, 'sum');
    expectClose(await ops.max(a).read(), tf.max(tf.tensor(v, [17, 1025]), -1).dataSync(), { atol: 0 }, 'max');
    portable.destroy();
  });
});
