// GEMM (kernels/gemm.wgsl) against the tfjs-core CPU backend.
//
// Tolerances. Each output is a dot product of K terms accumulated in f32, by us and by the
// oracle, in different orders (and we fuse multiply-adds). The standard first-order bound for
// one such sum is K * u * sum_k |a_ik * b_kj| with u = 2^-24; the difference of two such sums
// is at most twice that. So every element is checked against
//   |ours - oracle| <= 2 * K * u * S + epilogue allowance,   S = sum_k |a_ik b_kj|,
// computed per element (S comes from the oracle as |a| @ |b|). A dropped or doubled k-term
// shows up as an error of the size of one |a_ik b_kj| (~0.25 on average here), far above the
// bound for the sizes tested. Epilogue allowance: the activations are evaluated in f32 with
// exp (a few ulps) and our erf has |error| < 1.5e-7; GELU is 1.13-Lipschitz, so 1e-6 relative
// plus 1e-6 absolute covers them. f16 storage: inputs are rounded to f16 before both sides
// see them (the oracle reads back the rounded values), so only the f16 rounding of the
// output adds error: at most 2^-11 relative.
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, ops, ShapeError, type DType, type Engine, type Tensor } from '../src/node.js';
import { chooseGemmConfig, gemmAdapter, gemmCandidates, type GemmConfig } from '../src/tensor/ops/gemm-tuning.js';
import { matmulWithConfig, type MatmulOptions } from '../src/tensor/ops/matmul.js';
import { getEngine } from './helpers/engine.js';
import { oracle } from './helpers/oracle.js';
import { uniform } from './helpers/random.js';

type Tf = Awaited<ReturnType<typeof oracle>>;

const U = 2 ** -24;

interface Case {
  M: number;
  K: number;
  N: number;
  batchA?: number[];
  batchB?: number[];
  transposeA?: boolean;
  transposeB?: boolean;
  bias?: boolean;
  activation?: MatmulOptions['activation'];
  residual?: boolean;
  dtype?: DType;
  outDtype?: DType;
  /** Scale of the random inputs (large values exercise the activations' tails). */
  scale?: number;
  config?: GemmConfig;
  seed?: number;
}

function caseName(c: Case): string {
  const parts = [`${c.M}x${c.K}x${c.N}`];
  if (c.batchA?.length || c.batchB?.length) parts.push(`batch a[${c.batchA ?? []}] b[${c.batchB ?? []}]`);
  if (c.transposeA) parts.push('A^T');
  if (c.transposeB) parts.push('B^T');
  if (c.bias) parts.push('bias');
  if (c.activation) parts.push(c.activation);
  if (c.residual) parts.push('residual');
  if (c.dtype && c.dtype !== 'f32') parts.push(c.dtype);
  if (c.outDtype) parts.push(`-> ${c.outDtype}`);
  if (c.config) parts.push(configName(c.config));
  return parts.join(' ');
}

function configName(c: GemmConfig): string {
  return c.kind === 'tiled' ? `tiled bk${c.bk}` : `lanes wg${c.workgroupSize} ${c.rowsPerLane}x${c.cols}${c.subgroups ? ' subgroups' : ''}`;
}

const size = (shape: number[]) => shape.reduce((x, y) => x * y, 1);

/** numpy's broadcast of two batch shapes (written out here, independent of src/). */
function broadcastBatch(a: number[], b: number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const pa = [...new Array<number>(rank - a.length).fill(1), ...a];
  const pb = [...new Array<number>(rank - b.length).fill(1), ...b];
  return pa.map((d, i) => (d === 1 ? pb[i]! : d));
}

function reference(tf: Tf, c: Case, av: Float32Array, bv: Float32Array, aShape: number[], bShape: number[], biasV: Float32Array | null, resV: Float32Array | null, outShape: number[]) {
  return tf.tidy(() => {
    // tfjs's CPU batchMatMul does not broadcast batch dims of both operands correctly, so
    // the oracle multiplies explicitly broadcast copies.
    const batch = outShape.slice(0, -2);
    const ta = tf.broadcastTo(tf.tensor(av, aShape), [...batch, ...aShape.slice(-2)]);
    const tb = tf.broadcastTo(tf.tensor(bv, bShape), [...batch, ...bShape.slice(-2)]);
    let y = tf.matMul(ta, tb, c.transposeA, c.transposeB);
    const sumAbs = tf.matMul(tf.abs(ta), tf.abs(tb), c.transposeA, c.transposeB);
    let extra = tf.zerosLike(y);
    if (biasV) {
      const tbias = tf.tensor(biasV, [c.N]);
      y = tf.add(y, tbias);
      extra = tf.add(extra, tf.abs(tbias));
    }
    if (c.activation === 'relu') y = tf.relu(y);
    else if (c.activation === 'gelu_tanh') {
      const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(y, tf.mul(0.044715, tf.pow(y, 3))));
      y = tf.mul(tf.mul(0.5, y), tf.add(1, tf.tanh(inner)));
    } else if (c.activation === 'gelu_erf') {
      y = tf.mul(tf.mul(0.5, y), tf.add(1, tf.erf(tf.mul(y, Math.SQRT1_2))));
    }
    if (resV) {
      const tres = tf.tensor(resV, outShape);
      y = tf.add(y, tres);
      extra = tf.add(extra, tf.abs(tres));
    }
    return { expected: y.dataSync() as Float32Array, sumAbs: sumAbs.dataSync() as Float32Array, extra: extra.dataSync() as Float32Array };
  });
}

const readF32 = async (t: Tensor) => Float32Array.from(await t.read());

async function check(engine: Engine, c: Case): Promise<void> {
  const tf = await oracle();
  const dtype = c.dtype ?? 'f32';
  const outDtype = c.outDtype ?? dtype;
  const aMat = c.transposeA ? [c.K, c.M] : [c.M, c.K];
  const bMat = c.transposeB ? [c.N, c.K] : [c.K, c.N];
  const aShape = [...(c.batchA ?? []), ...aMat];
  const bShape = [...(c.batchB ?? []), ...bMat];
  const seed = c.seed ?? c.M * 1000003 + c.K * 1009 + c.N;
  const scale = c.scale ?? 1;
  const a = engine.tensor(uniform(size(aShape), seed, -scale, scale), aShape, dtype);
  const b = engine.tensor(uniform(size(bShape), seed + 1, -scale, scale), bShape, dtype);
  const bias = c.bias ? engine.tensor(uniform(c.N, seed + 2, -scale, scale), [c.N], outDtype) : undefined;
  const options: MatmulOptions = { transposeA: c.transposeA, transposeB: c.transposeB, bias, activation: c.activation ?? null, outDtype: c.outDtype };
  const outShape = [...broadcastBatch(c.batchA ?? [], c.batchB ?? []), c.M, c.N];
  let residual: Tensor | undefined;
  if (c.residual) {
    residual = engine.tensor(uniform(size(outShape), seed + 3, -scale, scale), outShape, outDtype);
    options.residual = residual;
  }
  const out = c.config ? matmulWithConfig(a, b, options, c.config) : ops.matmul(a, b, options);
  expect(out.dtype).toBe(outDtype);
  const got = await out.read();
  // The oracle sees exactly the values we stored (f16 inputs are already rounded).
  const { expected, sumAbs, extra } = reference(tf, c, await readF32(a), await readF32(b), aShape, bShape, bias ? await readF32(bias) : null, residual ? await readF32(residual) : null, outShape);
  expect([...out.shape]).toEqual(outShape);
  const outRel = outDtype === 'f16' ? 2 ** -11 : 0;
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const tol = 2 * Math.max(c.K, 1) * U * (sumAbs[i]! + extra[i]!) * 1.13 + 1e-6 + 1e-6 * Math.abs(e) + outRel * Math.abs(e);
    const excess = Math.abs(got[i]! - e) - tol;
    if (!(excess <= worstExcess)) {
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    expect.fail(`${caseName(c)}: element ${worst} is ${got[worst]} but expected ${expected[worst]} (sum|ab| ${sumAbs[worst]}, over the tolerance by ${worstExcess})`);
  }
  for (const t of [a, b, bias, residual, out]) t?.dispose();
}

let engine: Engine;
beforeAll(async () => {
  engine = await getEngine();
});

const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [3, 3, 3],
  [17, 17, 17],
  [1, 257, 3],
  [3, 1, 1025],
  [257, 3, 17],
  [17, 1025, 33],
  [33, 64, 65],
  [65, 68, 64],
  [257, 257, 257],
  [1025, 20, 36],
];

describe('matmul f32, default configuration (oracle: tfjs-core CPU)', () => {
  for (const [M, K, N] of SIZES) {
    it(`${M}x${K}x${N}, all four transpose combinations`, async () => {
      for (const transposeA of [false, true]) for (const transposeB of [false, true]) await check(engine, { M, K, N, transposeA, transposeB });
    });
  }
});

describe('matmul batches', () => {
  const cases: Case[] = [
    { M: 17, K: 33, N: 19, batchA: [2, 3], batchB: [] },
    { M: 17, K: 32, N: 20, batchA: [2, 3], batchB: [2, 3] },
    { M: 17, K: 33, N: 19, batchA: [2, 1], batchB: [1, 3] },
    { M: 5, K: 8, N: 7, batchA: [3, 1, 2], batchB: [4, 1] },
    { M: 9, K: 12, N: 40, batchA: [5], batchB: [5], transposeA: true, transposeB: true },
    { M: 9, K: 13, N: 40, batchA: [], batchB: [4], transposeB: true },
    { M: 3, K: 4, N: 8, batchA: [2, 3, 2, 3], batchB: [3, 1, 3] },
  ];
  for (const c of cases) it(caseName(c), () => check(engine, c));
});

describe('matmul epilogues', () => {
  const activations = [null, 'relu', 'gelu_tanh', 'gelu_erf'] as const;
  for (const activation of activations) {
    for (const [M, K, N] of [[17, 33, 35], [64, 64, 64]] as const) {
      it(`${M}x${K}x${N} bias ${activation ?? 'no activation'}, with and without residual`, async () => {
        await check(engine, { M, K, N, bias: true, activation });
        await check(engine, { M, K, N, bias: true, activation, residual: true, transposeB: true });
        await check(engine, { M, K, N, activation, residual: true });
      });
    }
  }
  it('activations stay finite and exact in the tails (|x| up to ~100)', async () => {
    for (const activation of ['gelu_tanh', 'gelu_erf', 'relu'] as const) await check(engine, { M: 19, K: 16, N: 21, scale: 5, bias: true, activation });
  });
});

describe('matmul f16 storage', () => {
  const cases: Case[] = [
    { M: 17, K: 33, N: 19 },
    { M: 65, K: 64, N: 68, transposeB: true },
    { M: 33, K: 36, N: 40, transposeA: true },
    { M: 257, K: 20, N: 32, bias: true, activation: 'gelu_tanh', residual: true },
    { M: 17, K: 33, N: 19, outDtype: 'f32' },
    { M: 17, K: 32, N: 19, batchA: [3], batchB: [], bias: true, activation: 'gelu_erf', outDtype: 'f32' },
  ];
  for (const c of cases) {
    it(caseName({ ...c, dtype: 'f16' }), async () => {
      if (!engine.hasF16) return;
      await check(engine, { ...c, dtype: 'f16' });
    });
  }
  it('f32 inputs with an f16 output', async () => {
    if (!engine.hasF16) return;
    await check(engine, { M: 17, K: 40, N: 36, outDtype: 'f16', bias: true, residual: true, activation: 'relu' });
  });
});

describe('every tile configuration the heuristic can pick', () => {
  for (const config of gemmCandidates()) {
    it(configName(config), async () => {
      if (config.kind === 'lanes' && config.subgroups && !gemmAdapter(engine).subgroupsOf8) return;
      // K % 4 == 0 and N % 4 == 0 (vector loads), with the whole epilogue and a shared b.
      await check(engine, { M: 67, K: 44, N: 72, config, bias: true, activation: 'gelu_erf', residual: true, batchA: [2], batchB: [] });
      // Odd sizes (scalar loads, a partial last k-step), both operands transposed.
      await check(engine, { M: 37, K: 45, N: 70, config, transposeA: true, transposeB: true });
    });
  }

  it('the heuristic only picks those configurations', () => {
    const tested = new Set(gemmCandidates().map(configName));
    const shapes = [[1, 1, 1], [3, 3, 3], [17, 17, 17], [257, 768, 2304], [257, 768, 3072], [257, 3072, 768], [257, 768, 2025], [1024, 1024, 1024], [4112, 48, 257], [16, 257, 48]];
    for (const cpu of [true, false]) for (const subgroupsOf8 of [true, false]) {
      for (const [M, K, N] of shapes) {
        const config = chooseGemmConfig({ cpu, subgroupsOf8 }, { M: M!, K: K!, N: N!, batch: 1 });
        expect(tested, `${M}x${K}x${N} cpu=${cpu} subgroups=${subgroupsOf8}`).toContain(configName(config));
      }
    }
  });
});

describe('matmul at a model shape', () => {
  it('257x96x2025 with transposeB (tied logits), default configuration', () => check(engine, { M: 257, K: 96, N: 2025, transposeB: true, bias: true }));
});

describe('matmul shape errors', () => {
  it('rejects bad shapes and dtypes with a ShapeError that says what was expected', () => {
    const a = engine.tensor(new Float32Array(6), [2, 3]);
    const b = engine.tensor(new Float32Array(8), [4, 2]);
    expect(() => ops.matmul(a, b)).toThrow(ShapeError);
    expect(() => ops.matmul(a, b)).toThrow(/inner dimensions differ.*expected b's K to be 3/);
    expect(() => ops.matmul(engine.tensor([1, 2, 3], [3]), a)).toThrow(/at least 2 dimensions/);
    const c = engine.tensor(new Float32Array(6), [3, 2]);
    expect(() => ops.matmul(a, c, { bias: engine.tensor([1, 2, 3], [3]) })).toThrow(/bias must be \[2\]/);
    expect(() => ops.matmul(a, c, { residual: engine.tensor([1, 2, 3, 4], [4, 1]) })).toThrow(/residual must have the output shape \[2, 2\]/);
    expect(() => ops.matmul(a, engine.tensor(new Int32Array(6), [3, 2], 'i32'))).toThrow(/a is f32 but b is i32/);
    const a3 = engine.tensor(new Float32Array(2 * 6), [2, 2, 3]);
    const b3 = engine.tensor(new Float32Array(3 * 6), [3, 3, 2]);
    expect(() => ops.matmul(a3, b3)).toThrow(/do not broadcast/);
    expect(() => ops.matmul(a, c, { activation: 'swish' as never })).toThrow(/unknown activation/);
    const a5 = engine.tensor(new Float32Array(2 * 3 * 2 * 3 * 2 * 6), [2, 3, 2, 3, 2, 2, 3]);
    const b5 = engine.tensor(new Float32Array(3 * 3 * 6), [3, 1, 3, 1, 3, 2]);
    expect(() => ops.matmul(a5, b5)).toThrow(/more than 4 axes; reshape/);
  });

  it('returns empty outputs for empty shapes', async () => {
    const a = engine.tensor(new Float32Array(0), [0, 3]);
    const b = engine.tensor(new Float32Array(6), [3, 2]);
    const out = ops.matmul(a, b);
    expect(out.shape).toEqual([0, 2]);
    const z = ops.matmul(engine.tensor(new Float32Array(0), [2, 0]), engine.tensor(new Float32Array(0), [0, 3]));
    expect([...(await z.read())]).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('portable path (no subgroups)', () => {
  it('agrees with the oracle without the subgroups feature', async () => {
    const portable = await createEngine({ disableFeatures: ['subgroups'] });
    expect(portable.hasSubgroups).toBe(false);
    await check(portable, { M: 67, K: 45, N: 70, bias: true, activation: 'gelu_tanh' });
    await check(portable, { M: 33, K: 64, N: 96, transposeB: true, batchA: [2], batchB: [2] });
    portable.destroy();
  });
});
