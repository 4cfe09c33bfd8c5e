import { describe, expect, it } from 'vitest';
import {
  BidirectionalTransformer,
  CheckpointError,
  OFFICIAL_TRANSFORMER,
  initialValues,
  randomWeights,
  seededUniform,
  ShapeError,
  transformerParams,
  type Engine,
  type Tensor,
  type TransformerConfig,
} from '../src/node.js';
import { expectClose, maxAbsError } from './helpers/compare.js';
import { getEngine } from './helpers/engine.js';
import { oracle } from './helpers/oracle.js';
import { randomInts } from './helpers/random.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

type Tf = Awaited<ReturnType<typeof oracle>>;
type TfTensor = ReturnType<Tf['tensor']>;

const TINY: TransformerConfig = {
  vocabSize: 50,
  hiddenSize: 32,
  numLayers: 2,
  numHeads: 4,
  mlpSize: 64,
  maxPositions: 17,
  layerNormEps: 1e-12,
  gelu: 'tanh',
};

/**
 * Host values for every parameter: initialValues (as randomWeights makes them) with the
 * biases and norm scales then perturbed, so that every bias and scale path is exercised.
 */
function hostWeights(config: TransformerConfig, seed: number): Map<string, Float32Array> {
  const random = seededUniform(seed);
  const host = new Map<string, Float32Array>();
  for (const spec of transformerParams(config)) {
    const values = initialValues(spec, random);
    const leaf = spec.name.slice(spec.name.lastIndexOf('.') + 1);
    if (leaf === 'bias') values.forEach((_, i) => (values[i] = 0.2 * (random() - 0.5)));
    if (leaf === 'scale') values.forEach((_, i) => (values[i] = 0.75 + 0.5 * random()));
    host.set(spec.name, values);
  }
  return host;
}

function upload(engine: Engine, config: TransformerConfig, host: Map<string, Float32Array>, dtype: 'f32' | 'f16' = 'f32'): Map<string, Tensor> {
  const weights = new Map<string, Tensor>();
  for (const spec of transformerParams(config)) weights.set(spec.name, engine.keep(engine.tensor(host.get(spec.name)!, spec.shape, dtype)));
  return weights;
}

/** The same network composed from tfjs-core CPU ops. */
function referenceLogits(tf: Tf, config: TransformerConfig, host: Map<string, Float32Array>, tokens: Int32Array, batch: number, length: number): Float32Array {
  const { hiddenSize: H, numHeads: heads, layerNormEps: eps } = config;
  const d = H / heads;
  const w = (name: string): TfTensor => {
    const spec = transformerParams(config).find((s) => s.name === name)!;
    return tf.tensor(host.get(name)!, spec.shape as number[]);
  };
  const gelu = (x: TfTensor): TfTensor =>
    config.gelu === 'erf'
      ? tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))))
      : tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));
  const ln = (x: TfTensor, prefix: string): TfTensor => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), w(`${prefix}.scale`)), w(`${prefix}.bias`));
  };
  const dense = (x: TfTensor, prefix: string): TfTensor => tf.add(tf.matMul(x, w(`${prefix}.weight`)), w(`${prefix}.bias`));
  return tf.tidy(() => {
    const rows = batch * length;
    const word = w('transformer.embed.word');
    let x = tf.add(tf.gather(word, tf.tensor(tokens, [rows], 'int32')), tf.tile(tf.slice(w('transformer.embed.position'), [0, 0], [length, H]), [batch, 1]));
    x = ln(x, 'transformer.embed.ln');
    for (let i = 0; i < config.numLayers; i++) {
      const p = `transformer.layers.${i}`;
      const qkv = dense(x, `${p}.attn.qkv`); // [rows, 3H]
      const heads3 = tf.transpose(tf.reshape(qkv, [batch, length, 3, heads, d]), [2, 0, 3, 1, 4]); // [3, B, heads, L, d]
      const [q, k, v] = tf.unstack(heads3).map((t) => tf.reshape(t, [batch * heads, length, d])) as [TfTensor, TfTensor, TfTensor];
      const probs = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d)));
      const attn = tf.reshape(tf.transpose(tf.reshape(tf.matMul(probs, v), [batch, heads, length, d]), [0, 2, 1, 3]), [rows, H]);
      x = ln(tf.add(x, dense(attn, `${p}.attn.out`)), `${p}.attn.ln`);
      x = ln(tf.add(x, dense(gelu(dense(x, `${p}.mlp.fc1`)), `${p}.mlp.fc2`)), `${p}.mlp.ln`);
    }
    const h = ln(gelu(dense(x, 'transformer.head.dense')), 'transformer.head.ln');
    return tf.add(tf.matMul(h, word, false, true), w('transformer.head.bias')).dataSync() as Float32Array;
  });
}

describe('BidirectionalTransformer (oracle: the same network from tfjs-core CPU ops)', () => {
  for (const gelu of ['tanh', 'erf'] as const) {
    it(`tiny config (2 layers, hidden 32, 4 heads, vocab 50), batch 2 x 17 tokens, GELU ${gelu}`, async () => {
      const engine = await getEngine();
      const tf = await oracle();
      const config = { ...TINY, gelu };
      const host = hostWeights(config, 7);
      const model = new BidirectionalTransformer(upload(engine, config, host), config);
      const [batch, length] = [2, 17];
      const ids = randomInts(batch * length, 11, 0, config.vocabSize);
      ids[0] = -1; // the official mask id: reads the last embedding row
      const tokens = engine.tensor(ids, [batch, length], 'i32');
      const logits = model.forward(tokens);
      expect(logits.shape).toEqual([batch, length, config.vocabSize]);
      const got = await logits.read();
      const expected = referenceLogits(tf, config, host, Int32Array.from(ids, (t) => (t < 0 ? t + config.vocabSize : t)), batch, length);
      const { error } = maxAbsError(got, expected);
      console.log(`transformer tiny (GELU ${gelu}): max abs logit error ${error.toExponential(2)} (logits up to ${Math.max(...expected.map(Math.abs)).toFixed(3)})`);
      // f32 everywhere; 2 layers of O(1) LayerNorm outputs through K <= 64 dot products, the
      // attention's online softmax and GEMMs in other orders: a few f32 ulps of O(1) values
      // per stage, compounded through 5 LayerNorms.
      expectClose(got, expected, { atol: 2e-5, rtol: 1e-4 }, 'logits');
      // The other GELU form would be far outside that tolerance: the forms are told apart.
      const otherForm = referenceLogits(tf, { ...config, gelu: gelu === 'tanh' ? 'erf' : 'tanh' }, host, Int32Array.from(ids, (t) => (t < 0 ? t + config.vocabSize : t)), batch, length);
      expect(maxAbsError(got, otherForm).error).toBeGreaterThan(1e-4);
      for (const t of [tokens, logits]) t.dispose();
    });
  }

  it('runs in f16 storage (f32 accumulation) close to the f32 oracle on the f16-rounded weights', async () => {
    const engine = await getEngine();
    if (!engine.hasF16) return;
    const tf = await oracle();
    const weights = upload(engine, TINY, hostWeights(TINY, 13), 'f16');
    const rounded = new Map<string, Float32Array>();
    for (const [name, t] of weights) rounded.set(name, Float32Array.from(await t.read()));
    const model = new BidirectionalTransformer(weights, TINY);
    const ids = randomInts(2 * 17, 12, 0, TINY.vocabSize);
    const logits = model.forward(engine.tensor(ids, [2, 17], 'i32'));
    expect(logits.dtype).toBe('f16');
    const got = await logits.read();
    const expected = referenceLogits(tf, TINY, rounded, ids, 2, 17);
    console.log(`transformer tiny f16: max abs logit error ${maxAbsError(got, expected).error.toExponential(2)}`);
    // Every activation is stored in f16 (2^-11 relative) between ops: ~15 roundings of O(1)
    // LayerNorm outputs reach the logits (|logit| < 1) through K <= 64 dot products.
    expectClose(got, expected, { atol: 3e-3, rtol: 3e-3 }, 'f16 logits'); // observed 5.4e-4
  });

  it('lists exactly the contract parameters and rejects missing or misshapen ones', async () => {
    const engine = await getEngine();
    const host = hostWeights(TINY, 3);
    const weights = upload(engine, TINY, host);
    const model = new BidirectionalTransformer(weights, TINY);
    expect(model.params()).toEqual(transformerParams(TINY));
    const missing = new Map(weights);
    missing.delete('transformer.layers.1.mlp.fc2.bias');
    expect(() => new BidirectionalTransformer(missing, TINY)).toThrow(CheckpointError);
    expect(() => new BidirectionalTransformer(weights, { ...TINY, mlpSize: 32 })).toThrow(/fc1.weight/);
  });

  it('computes only the requested logit columns (the codebook), equal to the full logits there', async () => {
    const engine = await getEngine();
    const model = new BidirectionalTransformer(upload(engine, TINY, hostWeights(TINY, 5)), TINY);
    const tokens = engine.tensor(randomInts(3 * 9, 2, 0, TINY.vocabSize), [3, 9], 'i32');
    const full = await model.forward(tokens).read();
    const sliced = model.forward(tokens, { logitsColumns: 20 });
    expect(sliced.shape).toEqual([3, 9, 20]);
    const got = await sliced.read();
    const expected = new Float32Array(3 * 9 * 20).map((_, i) => full[Math.floor(i / 20) * TINY.vocabSize + (i % 20)]!);
    expectClose(got, expected, { atol: 0 }, 'sliced logits'); // the same dot products
    expect(() => model.forward(tokens, { logitsColumns: 51 })).toThrow(ShapeError);
  });

  it('repeated forwards do not grow the pool', async () => {
    const engine = await getEngine();
    const model = new BidirectionalTransformer(upload(engine, TINY, hostWeights(TINY, 9)), TINY);
    const tokens = engine.tensor(randomInts(2 * 17, 4, 0, TINY.vocabSize), [2, 17], 'i32');
    model.forward(tokens).dispose(); // the first call fills the pool
    await engine.sync();
    const before = engine.stats().pool;
    for (let i = 0; i < 3; i++) model.forward(tokens).dispose();
    await engine.sync();
    const after = engine.stats().pool;
    expect(after.bytesInUse).toBe(before.bytesInUse);
    expect(after.bytesAllocated).toBe(before.bytesAllocated);
  });

  it('rejects sequences longer than the position table', async () => {
    const engine = await getEngine();
    const model = new BidirectionalTransformer(upload(engine, TINY, hostWeights(TINY, 1)), TINY);
    expect(() => model.forward(engine.tensor(new Int32Array(18), [1, 18], 'i32'))).toThrow(/learned positions/);
  });
});

// The official 24 x 768 x 16-head size (690 MB of random f32 weights, ~93 GFLOP per forward)
// takes minutes on a CPU adapter: run with MASKGIT_OFFICIAL=1 (the kernels bench times it).
describe.runIf(process.env.MASKGIT_OFFICIAL === '1')('BidirectionalTransformer at the official size', () => {
  it('runs one forward of batch 1 x 257 tokens to finite logits [1, 257, 2025]', async () => {
    const engine = await getEngine();
    const weights = randomWeights(engine, transformerParams(OFFICIAL_TRANSFORMER), { seed: 1 });
    const model = new BidirectionalTransformer(weights, OFFICIAL_TRANSFORMER);
    const tokens = engine.tensor(Int32Array.from({ length: 257 }, (_, i) => (i === 0 ? 1024 + 7 : (i * 37) % 1024)), [1, 257], 'i32');
    const logits = model.forward(tokens);
    expect(logits.shape).toEqual([1, 257, 2025]);
    const values = await logits.read();
    expect(values.every(Number.isFinite)).toBe(true);
    for (const w of weights.values()) w.dispose();
  }, HANG_GUARD_MS);
});
