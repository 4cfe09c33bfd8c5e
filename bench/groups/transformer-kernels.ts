// Transformer kernels (part of the `kernels` group): fused attention, LayerNorm, softmax and
// GELU at the official MaskGIT sizes, against tfjs-backend-webgpu's compositions on the same
// device, and onnxruntime-web's MultiHeadAttention and LayerNormalization.
import type * as tfc from '@tensorflow/tfjs-core';
import {
  BidirectionalTransformer,
  OFFICIAL_TRANSFORMER,
  ops,
  randomWeights,
  transformerParams,
  type Engine,
  type Tensor,
} from '../../src/node.js';
import { gflops, gpuRunner, rowTiming, timeRunners, type BenchContext } from '../harness.js';
import { ORT_PEER_NAME, ortPeer, type OrtGraph, type OrtPeer } from '../peers/ort.js';
import { TFJS_AS_RUNNER_1, tfjsPeer, type Tf } from '../peers/tfjs.js';

/** One measured piece of work: ours and the tfjs composition of the same computation. */
interface Case {
  kernel: string;
  shape: string;
  flop: number | null;
  ours(): Tensor;
  tfjs(): tfc.Tensor;
  /** The same computation as an onnxruntime-web graph, where it has one. */
  ort?: (ort: OrtPeer) => Promise<OrtGraph>;
  extra?: Record<string, unknown>;
}

const fill = (n: number, seed: number) => new Float32Array(n).map((_, i) => (((i * 7919 + seed * 104729) % 2003) / 2003) * 2 - 1);


function cases(engine: Engine, tf: Tf): Case[] {
  const out: Case[] = [];
  // Attention: 16 heads x 48 over the fused QKV projection of 257 tokens.
  {
    const [L, heads, d] = [257, 16, 48];
    const H = heads * d;
    const data = fill(L * 3 * H, 1);
    const qkv = engine.tensor(data, [1, L, 3 * H]);
    const x = tf.tensor(data, [L, 3, heads, d]);
    const flop = 4 * heads * L * L * d;
    const tfjsAttention = () =>
      tf.tidy(() => {
        const [q, k, v] = tf.unstack(tf.transpose(x, [1, 2, 0, 3]));
        const scores = tf.mul(tf.matMul(q!, k!, false, true), 1 / Math.sqrt(d));
        return tf.matMul(tf.softmax(scores), v!);
      });
    out.push({
      kernel: 'attention',
      shape: `${L}x${heads}x${d}`,
      flop,
      ours: () => ops.attention(qkv, { heads }),
      tfjs: tfjsAttention,
      ort: (ort) => ort.attention({ tokens: L, heads, headDim: d }),
      extra: { path: engine.hasSubgroups ? 'subgroups' : 'portable' },
    });
    out.push({ kernel: 'attention_portable', shape: `${L}x${heads}x${d}`, flop, ours: () => ops.attention(qkv, { heads, subgroups: false }), tfjs: tfjsAttention });
  }
  // LayerNorm [257, 768], eps 1e-12.
  {
    const [rows, cols] = [257, 768];
    const data = fill(rows * cols, 2);
    const x = engine.tensor(data, [rows, cols]);
    const scale = engine.tensor(fill(cols, 3), [cols]);
    const bias = engine.tensor(fill(cols, 4), [cols]);
    const tx = tf.tensor(data, [rows, cols]);
    const ts = tf.tensor(fill(cols, 3), [cols]);
    const tb = tf.tensor(fill(cols, 4), [cols]);
    out.push({
      kernel: 'layernorm',
      shape: `${rows}x${cols}`,
      flop: null,
      ours: () => ops.layerNorm(x, scale, bias, { eps: 1e-12 }),
      ort: (ort) => ort.layerNorm({ shape: [rows, cols], epsilon: 1e-12 }),
      tfjs: () =>
        tf.tidy(() => {
          const { mean, variance } = tf.moments(tx, -1, true);
          return tf.add(tf.mul(tf.mul(tf.sub(tx, mean), tf.rsqrt(tf.add(variance, 1e-12))), ts), tb);
        }),
    });
  }
  // Softmax over attention-score rows: [257 * 16, 257].
  {
    const [rows, cols] = [257 * 16, 257];
    const data = fill(rows * cols, 5).map((v) => v * 8);
    const x = engine.tensor(data, [rows, cols]);
    const tx = tf.tensor(data, [rows, cols]);
    out.push({ kernel: 'softmax', shape: `${rows}x${cols}`, flop: null, ours: () => ops.softmax(x), tfjs: () => tf.softmax(tx) });
  }
  // GELU (tanh) on the MLP's hidden activations [257, 3072] (the GEMM epilogue usually fuses it).
  {
    const [rows, cols] = [257, 3072];
    const data = fill(rows * cols, 6).map((v) => v * 4);
    const x = engine.tensor(data, [rows, cols]);
    const tx = tf.tensor(data, [rows, cols]);
    out.push({
      kernel: 'gelu_tanh',
      shape: `${rows}x${cols}`,
      flop: null,
      ours: () => ops.gelu(x, 'tanh'),
      tfjs: () =>
        tf.tidy(() => tf.mul(tf.mul(0.5, tx), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(tx, tf.mul(0.044715, tf.pow(tx, 3)))))))),
    });
  }
  return out;
}

/**
 * One forward of the official 24 x 768 x 16-head transformer (random weights, 690 MB f32) at
 * batch 1 x 257 tokens, to the logits on the GPU. No peer runs the whole network here.
 */
async function runOfficialForward(ctx: BenchContext): Promise<void> {
  const { engine } = ctx;
  const config = OFFICIAL_TRANSFORMER;
  const weights = randomWeights(engine, transformerParams(config), { seed: 1 });
  const model = new BidirectionalTransformer(weights, config);
  const tokens = engine.tensor(Int32Array.from({ length: 257 }, (_, i) => (i === 0 ? 1024 + 7 : (i * 37) % 1024)), [1, 257], 'i32');
  const flop = forwardFlop(config, 257);
  // Each forward is ~93 GFLOP (minutes on a CPU adapter): one warm-up (compiles every
  // pipeline) and one timed run.
  const timed = await timeRunners(ctx, [gpuRunner(engine, () => model.forward(tokens))], { runs: 1, warmup: 1 });
  const ms = timed.timings[0]!.ms;
  ctx.emit({ kernel: 'transformer_forward', shape: '1x257', gflops: gflops(flop, ms), ...rowTiming(timed, 0, null), gflop: flop / 1e9 });
  tokens.dispose();
  for (const w of weights.values()) w.dispose();
  engine.trim();
}

/** Multiply-adds x 2 of one forward over `length` tokens (GEMMs and attention; norms excluded). */
function forwardFlop(c: typeof OFFICIAL_TRANSFORMER, length: number): number {
  const H = c.hiddenSize;
  const perLayer = 2 * length * H * (3 * H + H + 2 * c.mlpSize) + 4 * length * length * H;
  return c.numLayers * perLayer + 2 * length * H * (H + c.vocabSize);
}

/** The transformer-kernel rows of the `kernels` group. */
export async function runTransformerKernels(ctx: BenchContext): Promise<void> {
  await runKernelRows(ctx);
  await runOfficialForward(ctx);
}

/**
 * Each case: ours, tfjs's composition and (for attention and LayerNorm) onnxruntime-web's
 * graph in the same alternating rounds, one row per peer from those rounds. ORT runs on the
 * engine's own device: with subgroups its attention finishes but is wrong on lavapipe
 * (subgroup size 8), so its row carries the measured error against a JS reference
 * (peer_max_abs_error); without subgroups it does not finish here under Dawn's default
 * robustness (see bench/peers/ort.ts; the `peers` group tries it).
 */
async function runKernelRows(ctx: BenchContext): Promise<void> {
  const { engine } = ctx;
  const peer = await tfjsPeer(engine);
  const ort = await ortPeer(engine);
  for (const c of cases(engine, peer.tf)) {
    const graph = c.ort ? await c.ort(ort) : null;
    try {
      const timed = await timeRunners(ctx, [gpuRunner(engine, c.ours), peer.runner(c.tfjs), ...(graph ? [() => graph.run()] : [])]);
      const row = (name: string, index: number) => ({ kernel: c.kernel, shape: c.shape, gflops: c.flop === null ? null : gflops(c.flop, timed.timings[0]!.ms), ...rowTiming(timed, 0, { name, index }), ...c.extra });
      ctx.emit(row(TFJS_AS_RUNNER_1.name, TFJS_AS_RUNNER_1.index));
      if (graph) {
        const check = await graph.check();
        ctx.emit({ ...row(ORT_PEER_NAME, 2), peer_max_abs_error: check.maxAbsError, peer_max_abs_reference: check.maxAbsReference, peer_subgroups: graph.subgroups });
      }
    } finally {
      await graph?.dispose();
    }
  }
}
