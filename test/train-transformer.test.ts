// The differentiable transformer (src/maskgit/train/model.ts) and the MVTM trainer: the same
// forward as the inference model on the same weights, gradients that match finite differences,
// a tiny run whose loss falls, and a checkpoint that resumes bit for bit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  backward,
  BidirectionalTransformer,
  grad,
  loadModelWeights,
  seededUniform,
  transformerParams,
  type Engine,
  type MaskGITConfig,
  type Tensor,
  type TransformerConfig,
} from '../src/node.js';
import { loadCheckpoint, saveCheckpoint } from '../src/maskgit/train/checkpoint.js';
import { initTrainingWeights, TrainableTransformer, trainingInitialValues } from '../src/maskgit/train/model.js';
import { maskBatch, type TokenData } from '../src/maskgit/train/mvtm.js';
import { MVTMTrainer, type MVTMOptions } from '../src/maskgit/train/trainer.js';
import { randomWeights, tokenizerParams } from '../src/node.js';
import { expectClose } from './helpers/compare.js';
import { getEngine } from './helpers/engine.js';
import { randomInts } from './helpers/random.js';

const work = mkdtempSync(join(tmpdir(), 'maskgit-train-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const C = 16;
const CLASSES = 4;
const TINY: TransformerConfig = {
  vocabSize: C + CLASSES + 1,
  hiddenSize: 16,
  numLayers: 2,
  numHeads: 2,
  mlpSize: 32,
  maxPositions: 17,
  layerNormEps: 1e-12,
  gelu: 'tanh',
};
const CONFIG: MaskGITConfig = {
  format: 'maskgit-model',
  version: 1,
  imageSize: 16,
  codebookSize: C,
  numClasses: CLASSES,
  maskTokenId: C + CLASSES,
  nullClassId: CLASSES - 1,
  dtype: 'f32',
  transformer: TINY,
  tokenizer: { filters: 8, channelMultipliers: [1, 1, 2], numResBlocks: 1, embeddingDim: 4, codebookSize: C, groupNormGroups: 4, groupNormEps: 1e-6 },
};

/** Weights with every bias and scale away from 0 and 1 and larger kernels, so every path carries signal. */
function varied(engine: Engine, config: TransformerConfig, seed: number, spread = 5): Map<string, Tensor> {
  const random = seededUniform(seed);
  return new Map(
    transformerParams(config).map((s) => {
      const v = trainingInitialValues(s, random);
      const leaf = s.name.slice(s.name.lastIndexOf('.') + 1);
      v.forEach((x, i) => {
        if (leaf === 'bias') v[i] = 0.2 * (random() - 0.5);
        else if (leaf === 'scale') v[i] = 0.75 + 0.5 * random();
        else v[i] = x * spread;
      });
      return [s.name, engine.keep(engine.tensor(v, s.shape))];
    }),
  );
}

/** Synthetic "images": 16 tokens with class-dependent structure, so a transformer can learn them. */
function syntheticTokens(count: number, seed: number): TokenData {
  const random = seededUniform(seed);
  const length = 16;
  const labels = Int32Array.from({ length: count }, (_, i) => i % (CLASSES - 1));
  const tokens = new Int32Array(count * length);
  for (let i = 0; i < count; i++) {
    const base = labels[i]! * 5;
    for (let t = 0; t < length; t++) tokens[i * length + t] = random() < 0.85 ? (base + (t % 4)) % C : Math.floor(random() * C);
  }
  return { tokens, labels, count, length };
}

describe('TrainableTransformer', () => {
  it('computes the same logits as the inference BidirectionalTransformer on the same weights', async () => {
    const engine = await getEngine();
    for (const gelu of ['tanh', 'erf'] as const) {
      const config = { ...TINY, gelu };
      const weights = varied(engine, config, 3, 1);
      const ids = Int32Array.from(randomInts(3 * 17, 4, 0, config.vocabSize));
      const tokens = engine.tensor(ids, [3, 17], 'i32');
      const expected = await new BidirectionalTransformer(weights, config).forward(tokens).read();
      const model = new TrainableTransformer(weights, config);
      const got = await model.forward(tokens).value.read();
      // Same kernels for the attention, norms and GEMMs; GELU and the residual adds run unfused
      // (a separate pass instead of the GEMM epilogue), which moves the last bits only.
      expectClose(got, expected, { atol: 2e-5, rtol: 2e-5 }, `logits (GELU ${gelu})`);
      const head = await model.forward(tokens, { logitsColumns: C }).value.read();
      expectClose(head, Float32Array.from({ length: 3 * 17 * C }, (_, k) => expected[Math.floor(k / C) * config.vocabSize + (k % C)]!), { atol: 2e-5, rtol: 2e-5 }, 'codebook logits');
    }
  });

  it('has gradients that match finite differences (masked cross-entropy, with dropout)', async () => {
    const engine = await getEngine();
    const weights = varied(engine, TINY, 7);
    const model = new TrainableTransformer(weights, TINY);
    const data = syntheticTokens(3, 1);
    const batch = maskBatch(data.tokens, data.labels, [0, 1, 2], { seed: 1, codebookSize: C, maskTokenId: TINY.vocabSize - 1, nullClassId: 3 });
    const B = 3;
    const L = 17;
    const inputs = engine.tensor(batch.inputs, [B, L], 'i32');
    const targets = engine.tensor(batch.targets, [B * L], 'i32');
    const w = engine.tensor(batch.weights, [B * L]);
    const dropout = { rate: 0.1, seed: 3, step: 2 };
    const lossOf = () =>
      grad.softmaxCrossEntropy(grad.reshape(model.forward(inputs, { logitsColumns: C, dropout }), [B * L, C]), targets, w, { smoothing: 0.1, weightSum: batch.maskedTotal });
    const loss = lossOf();
    backward(loss);
    const names = [
      'transformer.embed.word',
      'transformer.embed.position',
      'transformer.embed.ln.scale',
      'transformer.layers.0.attn.qkv.weight',
      'transformer.layers.0.attn.out.bias',
      'transformer.layers.1.mlp.fc1.weight',
      'transformer.layers.1.mlp.ln.bias',
      'transformer.head.dense.weight',
      'transformer.head.bias',
    ];
    const h = 1e-2;
    for (const name of names) {
      const p = model.params.get(name)!;
      const analytic = await p.grad!.read();
      const values = Float32Array.from(await p.value.read());
      // The three largest entries of the gradient (the others are below finite differences' resolution).
      const picks = [...analytic.keys()].sort((a, b) => Math.abs(analytic[b]!) - Math.abs(analytic[a]!)).slice(0, 3);
      for (const j of picks) {
        const at = async (v: number) => {
          const copy = Float32Array.from(values);
          copy[j] = v;
          engine.write(p.value, copy);
          const l = lossOf();
          const out = (await l.value.read())[0]!;
          return out;
        };
        const numeric = ((await at(values[j]! + h)) - (await at(values[j]! - h))) / (2 * h);
        engine.write(p.value, values);
        expect(Math.abs(analytic[j]! - numeric), `${name}[${j}]: autograd ${analytic[j]} vs finite difference ${numeric}`).toBeLessThanOrEqual(2e-3 + 2e-2 * Math.abs(numeric));
      }
      p.zeroGrad();
    }
  });
});

const OPTIONS: MVTMOptions = { batchSize: 8, totalSteps: 300, learningRate: 1e-2, warmupSteps: 5, seed: 11 };

describe('MVTMTrainer', () => {
  it('lowers the masked-token loss on learnable data', async () => {
    const engine = await getEngine();
    const data = syntheticTokens(64, 2);
    const trainer = new MVTMTrainer(engine, CONFIG, initTrainingWeights(engine, TINY, 1), data, OPTIONS);
    const before = await trainer.evaluate(data);
    const losses: number[] = [];
    for (let s = 0; s < 300; s++) losses.push((await trainer.trainStep()).loss);
    const after = await trainer.evaluate(data);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(losses.slice(-10))).toBeLessThan(0.6 * mean(losses.slice(0, 10)));
    expect(after.loss).toBeLessThan(0.6 * before.loss);
    expect(after.accuracy).toBeGreaterThan(before.accuracy + 0.3);
    // 85% of the tokens follow from (class, position): ignoring the class caps accuracy near 1/3.
    expect(after.accuracy).toBeGreaterThan(0.7);
    expect(trainer.step).toBe(300);
  });

  it('checkpoints and resumes exactly: the same losses as an uninterrupted run', async () => {
    const engine = await getEngine();
    const data = syntheticTokens(40, 3);
    const options = { ...OPTIONS, totalSteps: 12 };
    const tokenizer = randomWeights(engine, tokenizerParams(CONFIG.tokenizer), { seed: 2 });
    const straight = new MVTMTrainer(engine, CONFIG, initTrainingWeights(engine, TINY, 5), data, options);
    const expected: number[] = [];
    for (let s = 0; s < 12; s++) expected.push((await straight.trainStep()).loss);

    const first = new MVTMTrainer(engine, CONFIG, initTrainingWeights(engine, TINY, 5), data, options);
    const got: number[] = [];
    for (let s = 0; s < 5; s++) got.push((await first.trainStep()).loss);
    const dir = join(work, 'checkpoint');
    await saveCheckpoint(dir, first, tokenizer, { note: 'test' });
    // The checkpoint is a model folder like any other.
    const plain = await loadModelWeights(engine, dir);
    expect(plain.contents).toEqual(['transformer', 'tokenizer']);
    plain.weights.forEach((t) => t.dispose());

    const loaded = await loadCheckpoint(engine, dir);
    expect(loaded.state.step).toBe(5);
    expect(loaded.state.dataPosition).toBe(5 * options.batchSize);
    expect(loaded.state.extra).toEqual({ note: 'test' });
    const resumed = new MVTMTrainer(engine, loaded.config, loaded.transformer, data, loaded.state.options);
    resumed.optimizer.loadState(loaded.moments, loaded.state.step);
    for (let s = 5; s < 12; s++) got.push((await resumed.trainStep()).loss);
    expect(got).toEqual(expected);
    // And the weights agree bit for bit at the end.
    for (const [name, t] of straight.model.weights()) expect(await resumed.model.weights().get(name)!.read(), name).toEqual(await t.read());
  });
});
