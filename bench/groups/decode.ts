// End-to-end token generation, same engine, same run: MaskGIT's parallel decode (8 and 12
// steps) against the autoregressive baseline over the same weights (256 steps, uncached and
// KV-cached), at the official token count (16x16 + the class token) and codebook. Tokens
// only: the VQ decoder is timed apart (the `vqgan_decoder` row of the conv group). Random
// weights: speed does not depend on their values. The mid-size config runs fully; the official
// size times a few steps of each way and extrapolates (said in the row's `extrapolated`, and
// marked in the text table). Every way runs once per round, alternating, after a warm-up
// round that meets every prefix length (src/maskgit/benchmark.ts). Each row is a BenchRow
// (ours = MaskGIT, peer = the uncached baseline) carrying the decode record
// {"bench":"decode","config","maskgit_ms","ar_ms","ar_kv_ms","ratio","flop_ratio","extrapolated",...}.
//   MASKGIT_BENCH_DECODE_CONFIGS=mid|official narrows the run to one config.
import { benchmarkDecode, OFFICIAL_TRANSFORMER, officialConfig, randomWeights, transformerParams, type TransformerConfig } from '../../src/node.js';
import type { BenchContext, BenchGroup } from '../harness.js';

interface DecodeBenchConfig {
  name: string;
  transformer: TransformerConfig;
  mode: 'full' | 'extrapolate';
}

const L = 257;
const CONFIGS: DecodeBenchConfig[] = [
  { name: 'mid 8x512 (8 heads, mlp 2048), 257 tokens', transformer: { ...OFFICIAL_TRANSFORMER, numLayers: 8, hiddenSize: 512, numHeads: 8, mlpSize: 2048, maxPositions: L }, mode: 'full' },
  { name: 'official 24x768 (16 heads, mlp 3072), 257 tokens', transformer: { ...OFFICIAL_TRANSFORMER, maxPositions: L }, mode: 'extrapolate' },
];

async function runConfig(ctx: BenchContext, bench: DecodeBenchConfig): Promise<void> {
  const { engine, options } = ctx;
  const weights = randomWeights(engine, transformerParams(bench.transformer), { seed: 1 });
  const config = { ...officialConfig(256), transformer: bench.transformer };
  const result = await benchmarkDecode(weights, config, {
    name: bench.name,
    steps: [8, 12],
    mode: bench.mode,
    // Each full run takes seconds to minutes here: at most 2 timed rounds after 1 warm-up round.
    runs: Math.max(1, Math.min(options.runs, 2)),
    warmup: 1,
    classLabel: 7,
    onPhase: (phase) => ctx.log(`  ${bench.name}: ${phase}`),
  });
  const c = bench.transformer;
  const { spread } = result;
  ctx.emit({
    kernel: 'decode_maskgit_vs_ar',
    shape: `1x${L} ${c.numLayers}x${c.hiddenSize}`,
    ours_ms: result.maskgit_ms,
    ours_min_ms: spread.maskgit_ms.min,
    ours_max_ms: spread.maskgit_ms.max,
    peer: 'autoregressive (uncached, same engine)',
    peer_ms: result.ar_ms,
    peer_min_ms: spread.ar_ms?.min ?? null,
    peer_max_ms: spread.ar_ms?.max ?? null,
    speedup: result.ratio,
    speedup_min: spread.ratio?.min ?? null,
    speedup_max: spread.ratio?.max ?? null,
    gflops: result.maskgit_gflops,
    timing: 'alternating',
    ...result,
  });
  for (const w of weights.values()) w.dispose();
  engine.trim();
}

export const decodeGroup: BenchGroup = {
  name: 'decode',
  description: 'token generation end to end: MaskGIT 8/12 steps vs the autoregressive baseline (256 steps, uncached and KV-cached), same engine',
  async run(ctx) {
    const only = process.env.MASKGIT_BENCH_DECODE_CONFIGS?.split(',');
    for (const config of CONFIGS) if (!only || only.some((o) => config.name.startsWith(o))) await runConfig(ctx, config);
  },
};
