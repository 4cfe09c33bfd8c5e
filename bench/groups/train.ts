// Training kernels of the VQ tokenizer against tfjs-webgpu on the same adapter and against our
// direct conv kernels (method 'direct', the only path before the GEMM paths of
// src/tensor/ops/conv-grad.ts), all three alternating in one run: the conv2d forward of
// training, weight gradient (Conv2DBackpropFilter) and input gradient (Conv2DBackpropInput)
// at the 32 px emoji tokenizer's shapes (batch 32), GroupNorm + swish backward (tf.grads of
// the composed op), one AdamW update of the small tokenizer's and the small transformer's
// parameters (fused against a dispatch per parameter); then one whole training step of the
// `small` tokenizer (examples/s), auto against direct.
import type * as tfc from '@tensorflow/tfjs-core';
import { AdamW, backward, constant, grad, initTrainingWeights, ops, parameter, type Tensor } from '../../src/node.js';
import { convGradDefaults } from '../../src/tensor/ops/conv-grad.js';
import { EmaCodebook } from '../../src/maskgit/train/codebook.js';
import { TOKENIZER_PRESETS } from '../../src/maskgit/train/tokenizer-run.js';
import { conditionalConfig, TRANSFORMER_PRESETS } from '../../src/maskgit/train/transformer-run.js';
import { TrainableTokenizer } from '../../src/maskgit/train/tokenizer-model.js';
import { gflops, gpuRunner, rowTiming, timeRunners, values, type BenchContext, type BenchGroup, type Timed } from '../harness.js';
import { TFJS_AS_RUNNER_1, tfjsPeer, type TfjsPeer } from '../peers/tfjs.js';

/** Ours and the peer's work: `runs` alternating rounds after ctx.options.warmup (bench/harness.ts). */
function alternate(ctx: BenchContext, peer: TfjsPeer, ours: () => Tensor, theirs: () => tfc.Tensor | tfc.Tensor[], runs: number): Promise<Timed> {
  return timeRunners(ctx, [gpuRunner(ctx.engine, ours), peer.runner(theirs)], { runs, warmup: ctx.options.warmup });
}

const DIRECT = { name: 'ours: direct conv kernels', index: 2 };

/** Ours (method auto), the peer's and ours through the direct kernels, alternating; one row against each. */
async function threeWay(
  ctx: BenchContext,
  peer: TfjsPeer,
  row: { kernel: string; shape: string; flop: number },
  ours: (method: 'auto' | 'direct') => Tensor,
  theirs: () => tfc.Tensor | tfc.Tensor[],
  runs: number,
): Promise<void> {
  const timed = await timeRunners(ctx, [gpuRunner(ctx.engine, () => ours('auto')), peer.runner(theirs), gpuRunner(ctx.engine, () => ours('direct'))], { runs, warmup: ctx.options.warmup });
  const base = { kernel: row.kernel, shape: row.shape, gflops: gflops(row.flop, timed.timings[0]!.ms) };
  ctx.emit({ ...base, ...rowTiming(timed, 0, TFJS_AS_RUNNER_1) });
  ctx.emit({ ...base, ...rowTiming(timed, 0, DIRECT) });
}

async function convGradRows(ctx: BenchContext, peer: TfjsPeer): Promise<void> {
  const { engine, options } = ctx;
  const { tf } = peer;
  const B = 32;
  // [input side, Cin, Cout, K, upsampled input]: the small tokenizer's costliest layers.
  const shapes: [number, number, number, 1 | 3, boolean][] = [
    [32, 32, 32, 3, false],
    [16, 64, 32, 3, false],
    [16, 32, 32, 3, true],
    [8, 64, 64, 3, false],
    [32, 32, 32, 1, false],
    [32, 3, 32, 3, false],
  ];
  const runs = Math.min(options.runs, 3);
  for (const [H, cin, cout, k, up] of shapes) {
    const outH = up ? 2 * H : H;
    const xv = values(B * H * H * cin, 1);
    const dyv = values(B * outH * outH * cout, 2);
    const wv = values(k * k * cin * cout, 3);
    const x = engine.tensor(xv, [B, H, H, cin]);
    const dy = engine.tensor(dyv, [B, outH, outH, cout]);
    const w = engine.tensor(wv, [k, k, cin, cout]);
    // The peer reads the upsampled input itself (it has no fused upsampling).
    const tx = up ? tf.image.resizeNearestNeighbor(tf.tensor4d(xv, [B, H, H, cin]), [outH, outH]) : tf.tensor4d(xv, [B, H, H, cin]);
    const tdy = tf.tensor4d(dyv, [B, outH, outH, cout]);
    const tw = tf.tensor4d(wv, [k, k, cin, cout]);
    const conv = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 };
    const shape = `${B}x${H}x${H}x${cin}x${cout}${up ? ' up' : ''}`;
    const flop = 2 * B * outH * outH * k * k * cin * cout;
    const row = (kind: string) => ({ kernel: `conv2d_${k}x${k}_${kind}`, shape, flop });
    if (cout % 32 === 0) {
      // The forward conv of training (ops.conv2dForTraining; where it takes the GEMM).
      await threeWay(ctx, peer, row('train_forward'), (method) => ops.conv2dForTraining(x, w, { upsample: up, method }), () => tf.conv2d(tx as tfc.Tensor4D, tw as tfc.Tensor4D, 1, 'same'), runs);
    }
    await threeWay(
      ctx,
      peer,
      row('filter_grad'),
      (method) => ops.conv2dFilterGrad(x, dy, k, { upsample: up, method }),
      () => tf.engine().runKernel('Conv2DBackpropFilter', { x: tx, dy: tdy }, { ...conv, filterShape: [k, k, cin, cout] }) as tfc.Tensor,
      runs,
    );
    await threeWay(
      ctx,
      peer,
      row('input_grad'),
      (method) => ops.conv2dInputGrad(dy, w, { upsample: up, method }),
      () => {
        const full = tf.engine().runKernel('Conv2DBackpropInput', { dy: tdy, filter: tw }, { ...conv, inputShape: [B, outH, outH, cin] }) as tfc.Tensor4D;
        if (!up) return full;
        const summed = tf.mul(tf.avgPool(full, 2, 2, 'valid'), 4);
        full.dispose();
        return summed;
      },
      runs,
    );
    for (const t of [x, dy, w]) t.dispose();
    tf.dispose([tx, tdy, tw]);
  }
}

async function groupNormRow(ctx: BenchContext, peer: TfjsPeer): Promise<void> {
  const { engine, options } = ctx;
  const { tf } = peer;
  const [B, H, C, G] = [32, 32, 32, 8];
  const xv = values(B * H * H * C, 4);
  const dyv = values(B * H * H * C, 5);
  const sv = values(C, 6).map((v) => v + 1);
  const x = engine.tensor(xv, [B, H, H, C]);
  const dy = engine.tensor(dyv, [B, H, H, C]);
  const scale = engine.tensor(sv, [C]);
  const bias = engine.tensor(values(C, 7), [C]);
  const { out, stats } = ops.groupNormWithStats(x, scale, bias, { groups: G, eps: 1e-6, swish: true });
  out.dispose();
  const [tx, tdy, ts, tb] = [tf.tensor4d(xv, [B, H, H, C]), tf.tensor4d(dyv, [B, H, H, C]), tf.tensor1d(sv), tf.tensor1d(values(C, 7))];
  const f = (a: tfc.Tensor, s: tfc.Tensor, b: tfc.Tensor) => {
    const grouped = tf.reshape(a, [B, H, H, G, C / G]);
    const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
    const y = tf.add(tf.mul(tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, 1e-6))), [B, H, H, C]), s), b);
    return tf.sum(tf.mul(tf.mul(y, tf.sigmoid(y)), tdy));
  };
  const timed = await alternate(
    ctx,
    peer,
    () => {
      const g = ops.groupNormBackward(x, scale, bias, stats, dy, { groups: G, eps: 1e-6, swish: true });
      g.dscale.dispose();
      g.dbias.dispose();
      return g.dx;
    },
    () => tf.grads(f)([tx, ts, tb]),
    Math.min(options.runs, 3),
  );
  ctx.emit({ kernel: 'groupnorm_swish_backward', shape: `${B}x${H}x${H}x${C} g${G}`, gflops: null, ...rowTiming(timed, 0, { name: 'tfjs-webgpu (tf.grads, forward included)', index: 1 }) });
  for (const t of [x, dy, scale, bias, stats]) t.dispose();
  tf.dispose([tx, tdy, ts, tb]);
}

/**
 * One AdamW update of a whole model's parameters (gradients given), the fused update (one
 * dispatch over flat buffers) against a dispatch per parameter (the optimizer before it), alternating.
 */
async function optimizerRows(ctx: BenchContext): Promise<void> {
  const { engine, options } = ctx;
  const models: [string, Map<string, Tensor>][] = [];
  const tokenizer = TrainableTokenizer.initialize(engine, { ...TOKENIZER_PRESETS.small!, codebookSize: 1024 }, 1);
  models.push(['small tokenizer', tokenizer.weights()]);
  const transformer = conditionalConfig(TOKENIZER_PRESETS.small!, 32, TRANSFORMER_PRESETS.small!, Array.from({ length: 9 }, (_, i) => `class ${i}`)).transformer;
  models.push(['small transformer', initTrainingWeights(engine, transformer, 1)]);
  for (const [label, weights] of models) {
    // Each way its own copy of the parameters, so both update the same values from the same moments.
    const copies = (fused: boolean) => {
      const params = new Map([...weights].filter(([name]) => !name.endsWith('codebook')).map(([name, t]) => {
        const copy = engine.keep(engine.zeros(t.shape));
        engine.copy(t, 0, copy, 0, t.byteLength);
        return [name, parameter(copy)] as const;
      }));
      return { params, optimizer: new AdamW(params, { learningRate: 1e-4, weightDecay: 0.01, fused }) };
    };
    const ways = [copies(true), copies(false)];
    const step = (way: (typeof ways)[number]) => async () => {
      // Zero gradients: the update does all its work whatever their values.
      for (const v of way.params.values()) v.grad = engine.zeros(v.shape);
      way.optimizer.update();
      await engine.sync();
    };
    const timed = await timeRunners(ctx, ways.map(step), { runs: options.runs, warmup: options.warmup });
    const values = [...ways[0]!.params.values()].reduce((n, v) => n + v.value.size, 0);
    ctx.emit({ kernel: 'adamw_update', shape: `${label}: ${ways[0]!.params.size} tensors, ${(values / 1e6).toFixed(2)}M values`, gflops: null, ...rowTiming(timed, 0, { name: 'ours: a dispatch per parameter', index: 1 }) });
    for (const way of ways) {
      way.optimizer.dispose();
      for (const v of way.params.values()) v.value.dispose();
    }
  }
  tokenizer.dispose();
  for (const t of models[1]![1].values()) t.dispose();
}

async function trainingStepRow(ctx: BenchContext): Promise<void> {
  const { engine, options } = ctx;
  const config = TOKENIZER_PRESETS.small!;
  const B = 32;
  const model = TrainableTokenizer.initialize(engine, config, 1);
  const codebook = new EmaCodebook(model.codebook);
  const optimizer = new AdamW(model.params, { learningRate: 1e-4 });
  const pixels = engine.keep(engine.tensor(values(B * 32 * 32 * 3, 8).map((v) => v + 0.5), [B, 32, 32, 3]));
  // Step 0 (the warm-up round) reseeds the codebook; every step updates the weights as training does.
  let step = 0;
  const trainStep = async () => {
    const i = step++;
    engine.tidy(() => {
      const out = model.forward(constant(pixels), 0.25, i === 0 ? (z) => codebook.reseed(z, 0) : undefined);
      const loss = grad.add(grad.meanSquaredError(out.reconstruction, pixels), out.commitment);
      codebook.update(out.latents.value, out.tokens, i);
      backward(loss);
      optimizer.update();
    });
    await engine.sync();
  };
  // The same steps through the direct conv kernels, alternating with the default ones.
  const withMethod = (method: 'auto' | 'direct') => async () => {
    convGradDefaults.method = method;
    try {
      await trainStep();
    } finally {
      convGradDefaults.method = 'auto';
    }
  };
  const timed = await timeRunners(ctx, [withMethod('auto'), withMethod('direct')], { runs: Math.min(options.runs, 3), warmup: 1 });
  const ms = timed.timings[0]!.ms;
  const directMs = timed.timings[1]!.ms;
  ctx.emit({ kernel: 'tokenizer_train_step', shape: `small, batch ${B}, 32 px`, gflops: null, ...rowTiming(timed, 0, { name: 'ours: direct conv kernels', index: 1 }), examples_per_second: (B * 1000) / ms, direct_examples_per_second: (B * 1000) / directMs });
  ctx.log(`  training step of the small tokenizer: ${(ms / 1000).toFixed(2)} s for ${B} images (${((B * 1000) / ms).toFixed(1)} examples/s; direct conv kernels ${((B * 1000) / directMs).toFixed(1)} examples/s)`);
  if (engine.hasTimestamps) {
    // Where one more step's GPU time goes, per kernel (timestamp queries).
    engine.startProfile();
    await trainStep();
    const kernels = await engine.stopProfile();
    const total = kernels.reduce((a, k) => a + k.ms, 0);
    ctx.log(`  its GPU time by kernel (one profiled step, ${total.toFixed(0)} ms in ${kernels.reduce((a, k) => a + k.dispatches, 0)} dispatches):`);
    for (const k of kernels.slice(0, 15)) ctx.log(`    ${k.ms.toFixed(1).padStart(7)} ms ${((100 * k.ms) / total).toFixed(1).padStart(5)}%  ${String(k.dispatches).padStart(4)}x  ${k.pipeline}`);
  }
  optimizer.dispose();
  codebook.dispose();
  model.dispose();
  pixels.dispose();
}

export const trainGroup: BenchGroup = {
  name: 'train',
  description: 'VQ tokenizer training: conv2d forward and weight/input gradients (vs tfjs and our direct kernels), GroupNorm backward, AdamW fused vs per parameter, a whole training step',
  async run(ctx) {
    const peer = await tfjsPeer(ctx.engine);
    await convGradRows(ctx, peer);
    await groupNormRow(ctx, peer);
    await optimizerRows(ctx);
    await trainingStepRow(ctx);
  },
};
