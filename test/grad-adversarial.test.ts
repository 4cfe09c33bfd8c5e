// Gradients of the ops of the VQGAN training recipe: leaky ReLU, the L1 loss, the hinge loss,
// the mean, the scale and the inner product that carries a precomputed gradient, and the patch
// discriminator as a whole; each against central finite differences and tfjs-core's tf.grads.
// Then the recipe inside the tokenizer trainer: the adaptive weight of the adversarial term.
import type * as tfc from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { backward, constant, discriminatorParams, grad, parameter, PatchDiscriminator, ShapeError, TokenizerTrainer, type Variable } from '../src/node.js';
import { TOKENIZER_PRESETS } from '../src/maskgit/train/tokenizer-run.js';
import { expectClose } from './helpers/compare.js';
import { getEngine } from './helpers/engine.js';
import { checkAgainstTf, gradCheck, weightedSum } from './helpers/gradcheck.js';
import { oracle } from './helpers/oracle.js';
import { normal, uniform } from './helpers/random.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

type Tf = typeof tfc;
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Values in [-1, 1] kept at least `gap` away from `at` (finite differences across a kink are not a derivative). */
function awayFrom(n: number, seed: number, at: number, gap = 0.05): Float32Array {
  return uniform(n, seed).map((v) => (Math.abs(v - at) < gap ? at + Math.sign(v - at || 1) * gap : v));
}

describe('gradients of the adversarial recipe ops', () => {
  const shape = [2, 3, 5, 3];
  const n = size(shape);

  it('leaky ReLU (slope 0.2): finite differences and tfjs', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const r = normal(n, 2);
    const loss = (vars: Variable[]) => weightedSum(engine, grad.leakyRelu(vars[0]!), r);
    const values = [awayFrom(n, 1, 0)];
    await gradCheck(engine, values, [shape], loss, { h: 1e-2, atol: 1e-3, rtol: 1e-3, samples: 12 });
    await checkAgainstTf(engine, values, [shape], loss, (tf: Tf, x) => tf.mul(tf.leakyRelu(x!, 0.2), tf.tensor(r, shape)), { atol: 1e-5, rtol: 1e-5 }, 'leaky relu');
  });

  it('the L1 loss mean |x - t|: finite differences and tfjs', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const target = uniform(n, 3);
    // x - t kept away from 0, where |.| has its kink.
    const x = awayFrom(n, 4, 0).map((d, i) => target[i]! + d);
    const loss = (vars: Variable[]) => grad.meanAbsoluteError(vars[0]!, engine.tensor(target, shape));
    await gradCheck(engine, [x], [shape], loss, { h: 1e-2, atol: 1e-4, rtol: 1e-3, samples: 12 });
    await checkAgainstTf(engine, [x], [shape], loss, (tf: Tf, v) => tf.mean(tf.abs(tf.sub(v!, tf.tensor(target, shape)))), { atol: 1e-6, rtol: 1e-5 }, 'l1');
    expect(() => grad.meanAbsoluteError(parameter(engine.tensor(x, shape)), engine.tensor(target, [n]))).toThrow(ShapeError);
  });

  for (const label of [1, -1] as const) {
    it(`the hinge loss mean relu(1 - ${label} x): finite differences and tfjs`, { timeout: HANG_GUARD_MS }, async () => {
      const engine = await getEngine();
      // Logits on both sides of the margin (x = label), away from it.
      const x = awayFrom(n, 5 + label, label).map((v) => 2 * v);
      const values = [x.map((v) => (Math.abs(v - label) < 0.1 ? label + 0.1 * Math.sign(v - label || 1) : v))];
      const loss = (vars: Variable[]) => grad.hingeLoss(vars[0]!, label);
      await gradCheck(engine, values, [shape], loss, { h: 1e-2, atol: 1e-4, rtol: 1e-3, samples: 12 });
      await checkAgainstTf(engine, values, [shape], loss, (tf: Tf, v) => tf.mean(tf.relu(tf.sub(1, tf.mul(label, v!)))), { atol: 1e-6, rtol: 1e-5 }, `hinge ${label}`);
    });
  }

  it('mean, scale and the inner product with constant weights: finite differences and tfjs', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const w = normal(n, 7);
    const values = [uniform(n, 8)];
    const loss = (vars: Variable[]) => grad.add(grad.scale(grad.mean(grad.mul(vars[0]!, vars[0]!)), -3), grad.innerProduct(vars[0]!, engine.tensor(w, shape)));
    await gradCheck(engine, values, [shape], loss, { h: 1e-2, atol: 1e-3, rtol: 1e-3, samples: 12 });
    await checkAgainstTf(
      engine,
      values,
      [shape],
      loss,
      (tf: Tf, v) => tf.add(tf.mul(-3, tf.mean(tf.mul(v!, v!))), tf.sum(tf.mul(v!, tf.tensor(w, shape)))),
      { atol: 1e-5, rtol: 1e-5 },
      'mean + scale + inner product',
    );
    expect(() => grad.hingeLoss(parameter(engine.tensor(values[0]!, shape)), 0 as 1)).toThrow(ShapeError);
  });
});

/** The patch discriminator in tfjs-core: 3x3 SAME convs with bias, leaky ReLU 0.2, 2x2 average pooling. */
function tfDiscriminator(tf: Tf, x: tfc.Tensor, weights: tfc.Tensor[]): tfc.Tensor {
  const conv = (h: tfc.Tensor, i: number) => tf.add(tf.conv2d(h as tfc.Tensor4D, weights[2 * i] as tfc.Tensor4D, 1, 'same'), weights[2 * i + 1]!);
  const pool = (h: tfc.Tensor) => tf.avgPool(h as tfc.Tensor4D, 2, 2, 'valid');
  let h = tf.leakyRelu(conv(x, 0), 0.2);
  h = tf.leakyRelu(conv(pool(h), 1), 0.2);
  h = tf.leakyRelu(conv(pool(h), 2), 0.2);
  return conv(h, 3);
}

describe('PatchDiscriminator', () => {
  const filters = 4;
  const specs = discriminatorParams(filters);
  const imageShape = [2, 12, 8, 3];

  it('has the documented layers and refuses images it cannot judge', async () => {
    const engine = await getEngine();
    expect(specs.map((s) => `${s.name} [${s.shape.join(', ')}]`)).toEqual([
      'discriminator.conv_0.weight [3, 3, 3, 4]',
      'discriminator.conv_0.bias [4]',
      'discriminator.conv_1.weight [3, 3, 4, 8]',
      'discriminator.conv_1.bias [8]',
      'discriminator.conv_2.weight [3, 3, 8, 16]',
      'discriminator.conv_2.bias [16]',
      'discriminator.conv_out.weight [3, 3, 16, 1]',
      'discriminator.conv_out.bias [1]',
    ]);
    const d = PatchDiscriminator.initialize(engine, filters, 1);
    const logits = d.forward(constant(engine.tensor(uniform(size(imageShape), 1), imageShape)));
    expect(logits.shape).toEqual([2, 3, 2, 1]);
    expect(() => d.forward(constant(engine.zeros([1, 10, 8, 3])))).toThrow(/multiples of 4/);
    expect(() => d.forward(constant(engine.zeros([1, 8, 8, 4])))).toThrow(ShapeError);
    expect(() => discriminatorParams(0)).toThrow(/positive integer/);
    d.dispose();
  });

  it("gradients of the images and of every weight equal tfjs; frozen, it computes the images' only", { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const tf = await oracle();
    const shapes = [imageShape, ...specs.map((s) => [...s.shape])];
    const values = [uniform(size(imageShape), 11), ...specs.map((s, i) => normal(size(s.shape), 20 + i, s.name.endsWith('bias') ? 0.1 : 0.4))];
    const logitsShape = [2, 3, 2, 1];
    const r = normal(size(logitsShape), 30);
    const d = new PatchDiscriminator(filters, new Map(specs.map((s, i) => [s.name, engine.tensor(values[i + 1]!, s.shape)])));
    const images = parameter(engine.tensor(values[0]!, imageShape));
    const loss = weightedSum(engine, d.forward(images), r);
    const value = (await loss.value.read())[0]!;
    backward(loss);
    const inputs = values.map((v, i) => tf.tensor(v, shapes[i]!));
    const f = (x: tfc.Tensor, ...w: tfc.Tensor[]) => tf.sum(tf.mul(tfDiscriminator(tf, x, w), tf.tensor(r, logitsShape))) as tfc.Scalar;
    expect(Math.abs(value - f(inputs[0]!, ...inputs.slice(1)).dataSync()[0]!)).toBeLessThan(1e-4);
    const expected = tf.grads(f)(inputs);
    // Sums of at most a few hundred O(1) products in another order than tfjs: f32 rounding ~1e-6.
    expectClose(await images.grad!.read(), expected[0]!.dataSync(), { atol: 1e-5, rtol: 1e-4 }, 'd/d images');
    for (const [i, s] of specs.entries()) expectClose(await d.params.get(s.name)!.grad!.read(), expected[i + 1]!.dataSync(), { atol: 1e-5, rtol: 1e-4 }, `d/d ${s.name}`);
    for (const v of d.params.values()) v.zeroGrad();
    // Frozen: the same image gradient, bit for bit, and no weight receives one.
    const again = parameter(engine.tensor(values[0]!, imageShape));
    backward(weightedSum(engine, d.forward(again, { frozen: true }), r));
    expect([...(await again.grad!.read())]).toEqual([...(await images.grad!.read())]);
    for (const v of d.params.values()) expect(v.grad).toBeNull();
    d.dispose();
    tf.dispose([...inputs, ...expected]);
  });
});

describe('the adversarial term in TokenizerTrainer', () => {
  const S = 16;
  const count = 12;
  const images = new Float32Array(count * S * S * 3);
  for (let i = 0; i < images.length; i++) images[i] = 0.5 + 0.5 * Math.sin(i * 0.37 + Math.floor(i / (S * S * 3)));
  const data = { train: { images, count, size: S }, heldOut: { images: images.subarray(0, 4 * S * S * 3), count: 4, size: S } };

  it('weights the generator loss by w ||dL_rec/dW|| / (||dL_adv/dW|| + 1e-4), W the decoder output kernel (autograd through the whole tokenizer)', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const options = { steps: 6, batchSize: 4, learningRate: 2e-3, warmupSteps: 1, seed: 3, l1Weight: 0.7, l2Weight: 1.3, adversarialWeight: 0.4, adversarialStart: 2, discriminatorFilters: 4 };
    const trainer = TokenizerTrainer.create(engine, data, TOKENIZER_PRESETS.tiny!, options);
    for (let i = 0; i < options.adversarialStart; i++) trainer.trainStep();
    await trainer.flushLog();
    expect(trainer.history.adaptiveWeight).toEqual([0, 0]);
    // The expected weight, from two full backward passes with the step's batch.
    const pixels = engine.tensor(trainer.stream.batch(trainer.step), [4, S, S, 3]);
    const lastKernel = trainer.model.params.get('tokenizer.decoder.conv_out.weight')!;
    const kernelGradNorm = async (loss: (reconstruction: Variable) => Variable) => {
      const out = trainer.model.forward(constant(pixels), 0.25);
      backward(loss(out.reconstruction));
      const g = await lastKernel.grad!.read();
      for (const p of trainer.model.params.values()) p.zeroGrad();
      for (const p of trainer.discriminator!.model.params.values()) p.zeroGrad();
      out.tokens.dispose();
      let sum = 0;
      for (const v of g) sum += v * v;
      return Math.sqrt(sum);
    };
    const rec = await kernelGradNorm((x) => grad.add(grad.scale(grad.meanSquaredError(x, pixels), 1.3), grad.scale(grad.meanAbsoluteError(x, pixels), 0.7)));
    const adv = await kernelGradNorm((x) => grad.scale(grad.mean(trainer.discriminator!.model.forward(x)), -1));
    const expected = 0.4 * Math.min(1e4, rec / (adv + 1e-4));
    trainer.trainStep();
    trainer.trainStep();
    await trainer.flushLog();
    const h = trainer.history;
    expect(h.adaptiveWeight[2]! / expected).toBeCloseTo(1, 4);
    expect(h.adaptiveWeight[3]).toBeGreaterThan(0);
    for (const series of [h.adversarial, h.discriminator]) expect(series.slice(2).every((v) => Number.isFinite(v) && v !== 0)).toBe(true);
    // The hinge loss of an untrained discriminator is about 1 (logits near 0).
    expect(Math.abs(h.discriminator[2]! - 1)).toBeLessThan(0.5);
    expect(h.loss[2]).toBeCloseTo(1.3 * h.reconstruction[2]! + 0.7 * h.l1[2]! + h.commitment[2]! + h.adaptiveWeight[2]! * h.adversarial[2]!, 5);
    pixels.dispose();
    trainer.dispose();
  });

  it('refuses options without a reconstruction loss', async () => {
    const engine = await getEngine();
    expect(() => TokenizerTrainer.create(engine, data, TOKENIZER_PRESETS.tiny!, { l1Weight: 0, l2Weight: 0 })).toThrow(/both 0/);
    expect(() => TokenizerTrainer.create(engine, data, TOKENIZER_PRESETS.tiny!, { adversarialStart: 1.5 })).toThrow(/integer/);
    expect(() => TokenizerTrainer.create(engine, data, TOKENIZER_PRESETS.tiny!, { adversarialWeight: -1 })).toThrow(/>= 0/);
  });
});
