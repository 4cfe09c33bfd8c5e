// Kernel micro-benchmarks against the WebGPU peers on the same adapter, in one process.
// GEMM rows: 1024^3 and the MaskGIT transformer's shapes (MxKxN; "T" = b transposed).
import { ops, type Tensor } from '../../src/node.js';
import { gflops, gpuRunner, rowTiming, timeRunners, type BenchContext, type BenchGroup } from '../harness.js';
import { ORT_PEER_NAME, ortPeer } from '../peers/ort.js';
import { TFJS_PEER_NAME, tfjsPeer } from '../peers/tfjs.js';
import { runTransformerKernels } from './transformer-kernels.js';

interface GemmShape {
  M: number;
  K: number;
  N: number;
  /** b is [N, K] (the tied logits: h @ embed.word^T). */
  transposeB: boolean;
}

const GEMM_SHAPES: GemmShape[] = [
  { M: 1024, K: 1024, N: 1024, transposeB: false },
  { M: 257, K: 768, N: 2304, transposeB: false }, // fused QKV projection
  { M: 257, K: 768, N: 3072, transposeB: false }, // MLP up
  { M: 257, K: 3072, N: 768, transposeB: false }, // MLP down
  { M: 257, K: 768, N: 2025, transposeB: true }, // tied logits
];

const shapeName = (s: GemmShape) => `${s.M}x${s.K}x${s.N}`;

/** A peer's matmul on GPU-resident inputs: `run` records it and waits for the GPU. */
interface PeerGemm {
  run(): Promise<void>;
  dispose(): void;
}

/**
 * The WebGPU peers that take part in the GEMM rows. Each prepares f32 inputs of the given
 * shape on the shared device, or returns null when it cannot run it.
 */
const GEMM_PEERS: { name: string; prepare(ctx: BenchContext, s: GemmShape, a: Float32Array, b: Float32Array): Promise<PeerGemm | null> }[] = [
  {
    name: TFJS_PEER_NAME,
    async prepare(ctx, s, av, bv) {
      const peer = await tfjsPeer(ctx.engine);
      const { tf } = peer;
      const ta = tf.tensor(av, [s.M, s.K]);
      const tb = tf.tensor(bv, s.transposeB ? [s.N, s.K] : [s.K, s.N]);
      return {
        run: peer.runner(() => tf.matMul(ta, tb, false, s.transposeB)),
        dispose() {
          ta.dispose();
          tb.dispose();
        },
      };
    },
  },
  {
    // MatMul (Gemm with transB=1 for the tied logits) with GPU-resident inputs and outputs.
    name: ORT_PEER_NAME,
    async prepare(ctx, s) {
      const ort = await ortPeer(ctx.engine);
      const graph = await ort.matmul({ m: s.M, k: s.K, n: s.N, transposeB: s.transposeB });
      return {
        run: () => graph.run(),
        dispose: () => void graph.dispose(),
      };
    },
  },
];

function inputs(s: GemmShape): { a: Float32Array; b: Float32Array } {
  const a = new Float32Array(s.M * s.K).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const b = new Float32Array(s.K * s.N).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
  return { a, b };
}

async function gemmRows(ctx: BenchContext): Promise<void> {
  const { engine } = ctx;
  for (const s of GEMM_SHAPES) {
    const flop = 2 * s.M * s.N * s.K;
    const { a: av, b: bv } = inputs(s);
    const bShape = s.transposeB ? [s.N, s.K] : [s.K, s.N];
    const ours: { kernel: string; dtype: 'f32' | 'f16'; a: Tensor; b: Tensor }[] = [];
    for (const dtype of ['f32', 'f16'] as const) {
      if (dtype === 'f16' && !engine.hasF16) continue;
      ours.push({ kernel: `gemm_${dtype}`, dtype, a: engine.tensor(av, [s.M, s.K], dtype), b: engine.tensor(bv, bShape, dtype) });
    }
    const peers: { name: string; gemm: PeerGemm }[] = [];
    for (const peer of GEMM_PEERS) {
      const gemm = await peer.prepare(ctx, s, av, bv);
      if (gemm) peers.push({ name: peer.name, gemm });
    }
    const runners = [
      ...ours.map((o) => gpuRunner(engine, () => ops.matmul(o.a, o.b, { transposeB: s.transposeB }))),
      ...peers.map((p) => () => p.gemm.run()),
    ];
    // Every dtype of ours and every peer in the same rounds.
    const timed = await timeRunners(ctx, runners);
    ours.forEach((o, i) => {
      const against = peers.length ? peers.map((p, j) => ({ name: p.name, index: ours.length + j })) : [null];
      for (const peer of against) {
        const timing = rowTiming(timed, i, peer);
        ctx.emit({
          kernel: o.kernel,
          shape: shapeName(s),
          gflops: gflops(flop, timed.timings[i]!.ms),
          ...timing,
          ...(s.transposeB ? { transposeB: true } : {}),
          peer_gflops: peer ? gflops(flop, timed.timings[peer.index]!.ms) : null,
          // The peers compute in f32; the f16 rows compare our f16 storage with their f32.
          ...(o.dtype === 'f16' && peer ? { peer_dtype: 'f32' } : {}),
        });
      }
      o.a.dispose();
      o.b.dispose();
    });
    for (const p of peers) p.gemm.dispose();
  }
}

export const kernelsGroup: BenchGroup = {
  name: 'kernels',
  description: 'GEMM (f32, f16) at 1024^3 and the transformer shapes; attention, layernorm, softmax, gelu; the official transformer forward',
  async run(ctx) {
    await gemmRows(ctx);
    await runTransformerKernels(ctx);
  },
};
