// Kernel micro-benchmarks against the WebGPU peers on the same adapter, in one process.
// GEMM rows: 1024^3 and the MaskGIT transformer's shapes (MxKxN; "T" = b transposed).
import { ops, type Engine, type Tensor } from '../../src/node.js';
import { gflops, timeIt, type BenchContext, type BenchGroup } from '../harness.js';
import { tfjsPeer } from '../peers/tfjs.js';
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

const shapeName = (s: GemmShape) => `${s.M}x${s.K}x${s.N}${s.transposeB ? 'T' : ''}`;

/** A peer's matmul on GPU-resident inputs: `run` records it and waits for the GPU. */
interface PeerGemm {
  run(): Promise<void>;
  dispose(): void;
}

/**
 * The WebGPU peers that take part in the GEMM rows. Each prepares f32 inputs of the given
 * shape on the shared device, or returns null when it cannot run it.
 * The onnxruntime-web peer (bench/peers/ort.ts, another branch) joins here: add an entry
 * { name: 'ort-webgpu', prepare: (ctx, s) => ... } that builds a MatMul model with b as
 * an input and times session.run to onSubmittedWorkDone.
 */
const GEMM_PEERS: { name: string; prepare(ctx: BenchContext, s: GemmShape, a: Float32Array, b: Float32Array): Promise<PeerGemm | null> }[] = [
  {
    name: 'tfjs-webgpu',
    async prepare(ctx, s, av, bv) {
      const peer = await tfjsPeer(ctx.engine);
      const { tf } = peer;
      const ta = tf.tensor(av, [s.M, s.K]);
      const tb = tf.tensor(bv, s.transposeB ? [s.N, s.K] : [s.K, s.N]);
      return {
        async run() {
          tf.matMul(ta, tb, false, s.transposeB).dispose();
          await peer.sync();
        },
        dispose() {
          ta.dispose();
          tb.dispose();
        },
      };
    },
  },
];

function inputs(s: GemmShape): { a: Float32Array; b: Float32Array } {
  const a = new Float32Array(s.M * s.K).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const b = new Float32Array(s.K * s.N).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
  return { a, b };
}

async function timeOurs(engine: Engine, a: Tensor, b: Tensor, s: GemmShape, ctx: BenchContext): Promise<number> {
  return timeIt(async () => {
    ops.matmul(a, b, { transposeB: s.transposeB }).dispose();
    await engine.sync();
  }, ctx.options);
}

async function gemmRows(ctx: BenchContext): Promise<void> {
  const { engine } = ctx;
  for (const s of GEMM_SHAPES) {
    const flop = 2 * s.M * s.N * s.K;
    const { a: av, b: bv } = inputs(s);
    const bShape = s.transposeB ? [s.N, s.K] : [s.K, s.N];
    const peerMs = new Map<string, number>();
    for (const peer of GEMM_PEERS) {
      const prepared = await peer.prepare(ctx, s, av, bv);
      if (!prepared) continue;
      peerMs.set(peer.name, await timeIt(() => prepared.run(), ctx.options));
      prepared.dispose();
    }
    for (const dtype of ['f32', 'f16'] as const) {
      if (dtype === 'f16' && !engine.hasF16) continue;
      const a = engine.tensor(av, [s.M, s.K], dtype);
      const b = engine.tensor(bv, bShape, dtype);
      const oursMs = await timeOurs(engine, a, b, s, ctx);
      a.dispose();
      b.dispose();
      const rows = [...peerMs.entries()];
      if (rows.length === 0) rows.push(['', NaN]);
      for (const [peer, ms] of rows) {
        ctx.emit({
          kernel: `gemm_${dtype}`,
          shape: shapeName(s),
          ours_ms: oursMs,
          peer: peer || null,
          peer_ms: peer ? ms : null,
          gflops: gflops(flop, oursMs),
          peer_gflops: peer ? gflops(flop, ms) : null,
          // The peers compute in f32; the f16 rows compare our f16 storage with their f32.
          ...(dtype === 'f16' && peer ? { peer_dtype: 'f32' } : {}),
        });
      }
    }
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
