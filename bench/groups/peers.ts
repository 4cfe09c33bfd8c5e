// onnxruntime-web's WebGPU EP alone, on our adapter: its self-checks against JS references
// (with and without the subgroups feature) and its times at the sizes of /work/shared/PEERS.md,
// as PeerRows (no kernel of ours in these records; kernel groups put ORT in their own rows).
import { gflops, type BenchContext, type BenchGroup } from '../harness.js';
import { ORT_PEER_NAME, ortPeer, SELF_CHECK_OPS, type OrtCheck, type OrtGraph, type OrtPeer } from '../peers/ort.js';

/** Generous for these sizes (the slowest, conv, takes ~0.6 s here); a hung device fails fast. */
const HANG_TIMEOUT_MS = 60_000;

function emitCheck(ctx: BenchContext, check: OrtCheck): void {
  ctx.emitPeer({
    peer_kernel: `check_${check.op}`,
    shape: check.shape,
    dtype: check.dtype,
    peer: ORT_PEER_NAME,
    peer_ms: null,
    gflops: null,
    max_abs_error: check.maxAbsError,
    max_abs_reference: check.maxAbsReference,
    subgroups: check.subgroups,
    ...(check.failure ? { failure: check.failure } : {}),
  });
}

interface Job {
  op: string;
  shape: string;
  dtype: 'f32' | 'f16';
  peer: OrtPeer;
  make: () => Promise<OrtGraph>;
}

/** Times one graph, checks it on the timed inputs, and records both (or why it failed). */
async function timeAndCheck(ctx: BenchContext, job: Job): Promise<void> {
  let graph: OrtGraph | null = null;
  try {
    graph = await job.make();
    const timing = await graph.time(ctx.options);
    const check = await graph.check();
    ctx.emitPeer({
      peer_kernel: graph.op,
      shape: graph.shape,
      dtype: graph.dtype,
      peer: ORT_PEER_NAME,
      peer_ms: timing.ms,
      peer_min_ms: timing.minMs,
      peer_max_ms: timing.maxMs,
      runs: timing.times.length,
      warmup: timing.warmup,
      gflops: graph.flop === null ? null : gflops(graph.flop, timing.ms),
      max_abs_error: check.maxAbsError,
      max_abs_reference: check.maxAbsReference,
      subgroups: graph.subgroups,
    });
  } catch (error) {
    const failure = error instanceof Error ? error.message : String(error);
    ctx.log(`  ${job.op} ${job.shape} ${job.dtype} failed: ${failure}`);
    ctx.emitPeer({
      peer_kernel: job.op,
      shape: job.shape,
      dtype: job.dtype,
      peer: ORT_PEER_NAME,
      peer_ms: null,
      gflops: null,
      max_abs_error: null,
      max_abs_reference: null,
      subgroups: job.peer.subgroups,
      failure,
    });
  } finally {
    await graph?.dispose().catch(() => undefined);
  }
}

const NOT_ATTENTION = SELF_CHECK_OPS.filter((op) => op !== 'attention');

export const peersGroup: BenchGroup = {
  name: 'peers',
  description: 'onnxruntime-web WebGPU EP alone: self-checks (with/without subgroups) and times at the PEERS.md sizes',
  async run(ctx) {
    const own = await ortPeer(ctx.engine, { hangTimeoutMs: HANG_TIMEOUT_MS });
    const portable = await ortPeer(ctx.engine, { subgroups: false, hangTimeoutMs: HANG_TIMEOUT_MS });
    const peers: OrtPeer[] = own === portable ? [own] : [own, portable];
    const device = (peer: OrtPeer) => `ORT device ${peer.subgroups ? 'with' : 'without'} subgroups`;
    const jobs: Job[] = [
      { op: 'matmul', shape: '1024x1024x1024', dtype: 'f32', peer: own, make: () => own.matmul({ m: 1024, k: 1024, n: 1024 }) },
      { op: 'matmul', shape: '257x768x3072', dtype: 'f32', peer: own, make: () => own.matmul({ m: 257, k: 768, n: 3072 }) },
      { op: 'matmul_bt', shape: '257x768x2025', dtype: 'f32', peer: own, make: () => own.matmul({ m: 257, k: 768, n: 2025, transposeB: true }) },
      ...(own.hasF16
        ? [{ op: 'matmul', shape: '257x768x3072', dtype: 'f16', peer: own, make: () => own.matmul({ m: 257, k: 768, n: 3072, dtype: 'f16' }) } as const]
        : []),
      { op: 'layernorm', shape: '257x768', dtype: 'f32', peer: own, make: () => own.layerNorm({ shape: [257, 768], epsilon: 1e-6 }) },
      { op: 'softmax', shape: '4112x257', dtype: 'f32', peer: own, make: () => own.softmax({ shape: [16 * 257, 257] }) },
      { op: 'conv3x3', shape: '64x64x128x128', dtype: 'f32', peer: own, make: () => own.conv2d({ height: 64, width: 64, inChannels: 128, outChannels: 128 }) },
    ];
    for (const job of jobs) await timeAndCheck(ctx, job);
    for (const peer of peers) {
      ctx.log(`  self-check, ${device(peer)}`);
      for (const check of await peer.selfCheck({ ops: NOT_ATTENTION })) emitCheck(ctx, check);
    }
    // MultiHeadAttention last, device by device: some of ORT's attention shaders never finish
    // on lavapipe (see OrtPeer.selfCheck) and a stuck device also keeps a CPU busy. With
    // subgroups ORT's FlashAttention is wrong on subgroup size 8 (see max_abs_error).
    for (const peer of peers) {
      ctx.log(`  attention, ${device(peer)}`);
      for (const check of await peer.selfCheck({ ops: ['attention'], dtypes: ['f32'] })) emitCheck(ctx, check);
      await timeAndCheck(ctx, { op: 'attention', shape: '257x16x48', dtype: 'f32', peer, make: () => peer.attention({ tokens: 257, heads: 16, headDim: 48 }) });
    }
    for (const peer of peers.filter((p) => p.hasF16)) {
      for (const check of await peer.selfCheck({ ops: ['attention'], dtypes: ['f16'] })) emitCheck(ctx, check);
    }
  },
};
