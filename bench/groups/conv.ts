// The VQGAN tokenizer's kernels against tfjs-webgpu on the same adapter: 3x3 convs at the
// official decoder's shapes (target: 3x tfjs), 1x1 shortcut convs, upsampling folded into
// the conv against upsample-then-conv, GroupNorm + swish, resampling, the VQ search; then
// the official-size decoder at 256 px (time and peak pool memory).
import type * as tfc from '@tensorflow/tfjs-core';
import { ops, officialConfig, randomWeights, tokenizerParams, VQGANTokenizer, type Tensor } from '../../src/node.js';
import { gflops, gpuRunner, rowTiming, timeRunners, values, type BenchContext, type BenchGroup, type Timed } from '../harness.js';
import type { RunTiming } from '../../src/timing.js';
import { TFJS_AS_RUNNER_1, tfjsPeer, type TfjsPeer } from '../peers/tfjs.js';

/** Times ours and the peer's version of one piece of work in alternating rounds (bench/harness.ts). */
function compare(ctx: BenchContext, peer: TfjsPeer, ours: () => Tensor, theirs: () => tfc.Tensor, rounds: { runs: number; warmup: number }): Promise<Timed> {
  return timeRunners(ctx, [gpuRunner(ctx.engine, ours), peer.runner(theirs)], rounds);
}

async function convRows(ctx: BenchContext, peer: TfjsPeer): Promise<void> {
  const { engine, options } = ctx;
  const { tf } = peer;
  const shapes: [number, number, number, number, 1 | 3][] = [
    [16, 16, 512, 512, 3],
    [32, 32, 512, 256, 3],
    [64, 64, 256, 256, 3],
    [128, 128, 128, 128, 3],
    [256, 256, 128, 128, 3],
    [32, 32, 256, 256, 1],
    [128, 128, 128, 128, 1],
  ];
  for (const [H, W, cin, cout, k] of shapes) {
    // At most 3 timed rounds: tfjs takes seconds per conv here (6.7 s at 256 x 256 on a quiet machine).
    const runs = { runs: Math.min(options.runs, 3), warmup: 1 };
    const xv = values(H * W * cin, 1);
    const wv = values(k * k * cin * cout, 2).map((v) => v / Math.sqrt(k * k * cin));
    const x = engine.tensor(xv, [1, H, W, cin]);
    const w = engine.tensor(wv, [k, k, cin, cout]);
    const tx = tf.tensor4d(xv, [1, H, W, cin]);
    const tw = tf.tensor4d(wv, [k, k, cin, cout]);
    const timed = await compare(ctx, peer, () => ops.conv2d(x, w), () => tf.conv2d(tx, tw, 1, 'same'), runs);
    const [ours, theirs] = timed.timings as [RunTiming, RunTiming];
    const tile = ops.chooseConvTile(engine, 'f32', [1, H, W, cin], k, cout, W);
    ctx.emit({
      kernel: `conv2d_${k}x${k}`,
      shape: `${H}x${W}x${cin}x${cout}`,
      gflops: gflops(2 * H * W * k * k * cin * cout, ours.ms),
      ...rowTiming(timed, 0, TFJS_AS_RUNNER_1),
      tile: `${tile.pix} px x ${tile.sg ? `${tile.sg * tile.wpl} ch (subgroup ${tile.sg} x ${tile.wpl}${tile.tex ? ', textures' : ''})` : `${4 * tile.nv} ch (portable)`}`,
    });
    if (ours.cpuMs !== null && theirs.cpuMs !== null) ctx.log(`    CPU time per run: ours ${ours.cpuMs.toFixed(0)} ms, tfjs ${theirs.cpuMs.toFixed(0)} ms (${(theirs.cpuMs / ours.cpuMs).toFixed(2)}x)`);
    x.dispose();
    w.dispose();
    tf.dispose([tx, tw]);
  }
}

async function fusedUpsampleRow(ctx: BenchContext): Promise<void> {
  // Decoder level 3: a 32x32x256 map upsampled to 64x64, then a 3x3 conv 256 -> 256.
  const { engine, options } = ctx;
  const [H, W, C] = [32, 32, 256];
  const x = engine.tensor(values(H * W * C, 3), [1, H, W, C]);
  const w = engine.tensor(values(9 * C * C, 4).map((v) => v / 48), [3, 3, C, C]);
  // Ours both ways, in the same alternating rounds.
  const timed = await timeRunners(
    ctx,
    [
      gpuRunner(engine, () => ops.conv2d(x, w, { upsample: true })),
      gpuRunner(engine, () => {
        const up = ops.upsampleNearest2x(x);
        const y = ops.conv2d(up, w);
        up.dispose();
        return y;
      }),
    ],
    { runs: Math.min(options.runs, 3), warmup: 1 },
  );
  ctx.emit({
    kernel: 'conv2d_3x3_upsample_fused',
    shape: `${H}x${W}x${C}x${C}`,
    gflops: gflops(2 * 4 * H * W * 9 * C * C, timed.timings[0]!.ms),
    ...rowTiming(timed, 0, { name: 'ours: upsample then conv2d', index: 1 }),
  });
  x.dispose();
  w.dispose();
}

async function smallOpRows(ctx: BenchContext, peer: TfjsPeer): Promise<void> {
  const { engine, options } = ctx;
  const { tf } = peer;
  const [H, W, C, G] = [64, 64, 256, 32];
  const xv = values(H * W * C, 5);
  const x = engine.tensor(xv, [1, H, W, C]);
  const scale = engine.tensor(values(C, 6).map((v) => v + 1), [C]);
  const bias = engine.tensor(values(C, 7), [C]);
  const tx = tf.tensor4d(xv, [1, H, W, C]);
  const ts = tf.tensor1d(values(C, 6).map((v) => v + 1));
  const tb = tf.tensor1d(values(C, 7));
  const peerGroupNorm = () =>
    tf.tidy(() => {
      const grouped = tf.reshape(tx, [1, H, W, G, C / G]);
      const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
      const y = tf.add(tf.mul(tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, 1e-6))), [1, H, W, C]), ts), tb);
      return tf.mul(y, tf.sigmoid(y));
    });
  const rows: [string, string, () => Tensor, () => tfc.Tensor][] = [
    ['groupnorm_swish', `${H}x${W}x${C} g${G}`, () => ops.groupNorm(x, scale, bias, { groups: G, eps: 1e-6, swish: true }), peerGroupNorm],
    ['upsample_nearest_2x', `${H}x${W}x${C}`, () => ops.upsampleNearest2x(x), () => tf.image.resizeNearestNeighbor(tx, [2 * H, 2 * W])],
    ['avgpool_2x2', `${H}x${W}x${C}`, () => ops.avgPool2x2(x), () => tf.avgPool(tx, 2, 2, 'valid')],
  ];
  for (const [kernel, shape, ours, theirs] of rows) {
    ctx.emit({ kernel, shape, gflops: null, ...rowTiming(await compare(ctx, peer, ours, theirs, options), 0, TFJS_AS_RUNNER_1) });
  }
  // The VQ search of one 256 px image: 256 latents against the 1024 x 256 codebook.
  const [N, K, D] = [256, 1024, 256];
  const av = values(N * D, 8);
  const cv = values(K * D, 9);
  const latents = engine.tensor(av, [N, D]);
  const codebook = engine.tensor(cv, [K, D]);
  const ta = tf.tensor2d(av, [N, D]);
  const tc = tf.tensor2d(cv, [K, D]);
  const peerVq = () =>
    tf.tidy(() => tf.argMin(tf.sub(tf.add(tf.sum(tf.square(ta), 1, true), tf.sum(tf.square(tc), 1)), tf.mul(2, tf.matMul(ta, tc, false, true))), 1));
  const vq = await compare(ctx, peer, () => ops.vqNearest(latents, codebook), peerVq, options);
  ctx.emit({ kernel: 'vq_nearest', shape: `${N}x${K}x${D}`, gflops: gflops(2 * N * K * D, vq.timings[0]!.ms), ...rowTiming(vq, 0, TFJS_AS_RUNNER_1) });
  for (const t of [x, scale, bias, latents, codebook]) t.dispose();
  tf.dispose([tx, ts, tb, ta, tc]);
}

async function decoderRow(ctx: BenchContext): Promise<void> {
  const { engine } = ctx;
  const config = officialConfig(256).tokenizer;
  const weights = randomWeights(engine, tokenizerParams(config), { seed: 1 });
  const tokenizer = VQGANTokenizer.fromWeights(weights, config);
  const weightBytes = [...weights.values()].reduce((n, t) => n + t.byteLength, 0);
  const ids = (n: number) => engine.tensor(values(n, 10).map((v) => Math.floor((v + 0.5) * 1024)), [1, n], 'i32');
  const tokens = ids(256);
  // One warm-up decode (compiles every kernel variant; its peak is the timed run's), one timed.
  engine.resetPeakMemory();
  const inUse = engine.stats().pool.bytesInUse;
  const timed = await timeRunners(ctx, [gpuRunner(engine, () => tokenizer.decode(tokens))], { runs: 1, warmup: 1 });
  const stats = engine.stats();
  const peak = stats.pool.peakBytesInUse;
  const texturePeak = stats.textures.peakBytesInUse;
  ctx.emit({
    kernel: 'vqgan_decoder',
    shape: '1x256x256',
    gflops: gflops(187e9, timed.timings[0]!.ms),
    ...rowTiming(timed, 0, null),
    peak_pool_bytes: peak,
    peak_activation_bytes: peak - inUse,
    weight_bytes: weightBytes,
    peak_texture_bytes: texturePeak,
    texture_bytes_allocated: stats.textures.bytesAllocated,
  });
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  ctx.log(`  decoder peak pool memory ${mib(peak)} (weights ${mib(weightBytes)}, activations ${mib(peak - inUse)}); textures: peak in use ${mib(texturePeak)}, pooled ${mib(stats.textures.bytesAllocated)}`);
  tokens.dispose();
  for (const t of weights.values()) t.dispose();
}

export const convGroup: BenchGroup = {
  name: 'conv',
  description: 'VQGAN tokenizer: conv2d 3x3/1x1, fused upsample, GroupNorm, resampling, VQ search, decoder at 256 px',
  async run(ctx) {
    const started = performance.now();
    const peer = await tfjsPeer(ctx.engine);
    await convRows(ctx, peer);
    await fusedUpsampleRow(ctx);
    await smallOpRows(ctx, peer);
    await decoderRow(ctx);
    ctx.log(`  conv group took ${((performance.now() - started) / 1000).toFixed(0)} s`);
  },
};
