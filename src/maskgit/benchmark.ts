/**
 * Token generation timed end to end on one engine: MaskGIT's parallel decode against the
 * autoregressive baseline over the same weights (raster order, one token per step), uncached
 * (each step reruns the causal transformer over the prefix, as VQGAN's sampler does) and with
 * a KV cache. Tokens only: the VQ decoder is not part of these times. Used by `npm run bench
 * -- --only decode` and `maskgit bench`.
 */
import { checkInteger } from '../arguments.js';
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { CausalTransformer, decodeAutoregressive } from './autoregressive.js';
import { imageTokenCount, type TransformerConfig } from './config.js';
import { cachedStepsFlop, decodeFlops } from './cost.js';
import { decodeTokens, type DecodeConfig } from './decode.js';
import { BidirectionalTransformer } from './transformer.js';
import type { Weights } from './weights.js';

export interface DecodeBenchOptions {
  /** Shown in the result. */
  name: string;
  /** MaskGIT step counts to time (the first is the headline); default [8]. */
  steps?: readonly number[];
  /** Median of this many runs (default 1), after `warmup` untimed ones (default 0; every kernel is compiled before either). */
  runs?: number;
  warmup?: number;
  /**
   * 'full': every way run end to end. 'extrapolate': a few steps of each, scaled (for sizes
   * that take too long here): MaskGIT's last 2 steps (every step does the same work), the
   * cached baseline's first 32 tokens scaled by FLOPs, the uncached one's forward timed at
   * prefix lengths 1, 64, 128, ... and interpolated linearly over every length. Default 'full'.
   */
  mode?: 'full' | 'extrapolate';
  /** Time the autoregressive baseline too (default true). */
  autoregressive?: boolean;
  /** Class label of the generated image (default 0). */
  classLabel?: number;
  /** Called before each timed phase. */
  onPhase?: (phase: string, index: number, phases: number) => void;
}

/** One JSON record: {"bench":"decode","config","maskgit_ms","ar_ms","ar_kv_ms","ratio","flop_ratio","extrapolated",...}. */
export interface DecodeBenchResult {
  bench: 'decode';
  config: string;
  tokens: number;
  steps: number;
  maskgit_ms: number;
  maskgit_step_ms: number;
  /** Per step count asked for, the generation's ms. */
  maskgit_ms_by_steps: Record<string, number>;
  ar_ms: number | null;
  ar_kv_ms: number | null;
  /** ar_ms / maskgit_ms. */
  ratio: number | null;
  /** The same ratio in FLOPs. */
  flop_ratio: number;
  kv_ratio: number | null;
  kv_flop_ratio: number;
  maskgit_gflop: number;
  ar_gflop: number;
  ar_kv_gflop: number;
  maskgit_gflops: number;
  /** false, or how the times were extrapolated. */
  extrapolated: false | string;
  /** Extrapolated rows: the uncached step's ms at the prefix lengths timed. */
  ar_step_ms_at_length?: Record<string, number>;
  seconds: number;
}

const round = (v: number, digits = 1) => Number(v.toFixed(digits));

async function timeRuns(work: () => Promise<void>, runs: number, warmup: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await work();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await work();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const m = times.length >> 1;
  return times.length % 2 ? times[m]! : (times[m - 1]! + times[m]!) / 2;
}

/** Reads the tokens back (the GPU has finished) and frees them. */
async function finish(t: Tensor): Promise<void> {
  await t.read();
  t.dispose();
}

/** Sum over lengths 1..n of a cost measured at a few increasing lengths (first 1, last n), linear in between. */
export function interpolatedSum(points: readonly (readonly [number, number])[], n: number): number {
  let total = 0;
  for (let length = 1; length <= n; length++) {
    const i = Math.max(1, points.findIndex(([l]) => l >= length));
    const [l0, m0] = points[i - 1]!;
    const [l1, m1] = points[i]!;
    total += m0 + ((m1 - m0) * (length - l0)) / (l1 - l0);
  }
  return total;
}

/**
 * Times token generation of one image with the transformer in `weights` (transformerParams
 * of `transformer`): MaskGIT for each step count, then the autoregressive baseline uncached and
 * cached. Everything runs to a readback of the tokens.
 */
export async function benchmarkDecode(weights: Weights, config: DecodeConfig & { transformer: TransformerConfig }, options: DecodeBenchOptions): Promise<DecodeBenchResult> {
  const started = performance.now();
  const c = config.transformer;
  const C = config.codebookSize;
  const N = imageTokenCount(config);
  const stepsList = options.steps ?? [8];
  if (stepsList.length === 0) throw new ArgumentError('steps', 'give at least one step count');
  for (const s of stepsList) checkInteger('steps', s, 2, 1024);
  const runs = options.runs ?? 1;
  const warmup = options.warmup ?? 0;
  checkInteger('runs', runs, 1);
  checkInteger('warmup', warmup, 0);
  const full = (options.mode ?? 'full') === 'full';
  const withAR = options.autoregressive ?? true;
  const classes = [options.classLabel ?? 0];
  const model = new BidirectionalTransformer(weights, c);
  const engine = model.embed.word.engine;
  const logits = { engine, forward: (tokens: Tensor<'i32'>) => model.forward(tokens, { logitsColumns: C }) };
  const causal = withAR ? new CausalTransformer(weights, c) : null;
  const phases = ['compiling', ...stepsList.map((s) => `MaskGIT ${s} steps`), ...(withAR ? ['autoregressive, KV cache', 'autoregressive, uncached'] : [])];
  let phase = 0;
  const next = () => options.onPhase?.(phases[phase]!, phase++, phases.length);

  next(); // every kernel variant compiled before timing: one step of each way
  await finish(await decodeTokens(logits, config, { classes, steps: 8, startStep: 7 }));
  if (causal) {
    await finish(await decodeAutoregressive(causal, config, { classes, cache: true, tokens: 2 }));
    await finish(await decodeAutoregressive(causal, config, { classes, cache: false, tokens: 2 }));
  }

  // MaskGIT: every step does the same work (one forward over all positions); extrapolated
  // runs time the last 2 steps (a re-mask and the final draw) and scale.
  const bySteps: Record<string, number> = {};
  let stepMs = 0;
  for (const steps of stepsList) {
    next();
    const timed = full ? steps : 2;
    const ms = await timeRuns(async () => finish(await decodeTokens(logits, config, { classes, steps, startStep: steps - timed })), runs, warmup);
    if (stepMs === 0) stepMs = ms / timed;
    bySteps[steps] = round(full ? ms : (steps * ms) / timed);
  }
  const steps = stepsList[0]!;
  const maskgitMs = bySteps[steps]!;
  const flops = decodeFlops(c, N, steps, C);

  let arMs: number | null = null;
  let arKvMs: number | null = null;
  let atLength: Record<string, number> | undefined;
  if (causal) {
    next();
    const kvTokens = full ? N : Math.min(N, 32);
    const kvMs = await timeRuns(async () => finish(await decodeAutoregressive(causal, config, { classes, cache: true, tokens: kvTokens })), runs, warmup);
    arKvMs = full ? kvMs : (kvMs * flops.autoregressiveCached) / cachedStepsFlop(c, kvTokens, C);
    next();
    if (full) arMs = await timeRuns(async () => finish(await decodeAutoregressive(causal, config, { classes, cache: false })), 1, 0);
    else {
      const lengths = [...new Set([1, ...[1, 2, 3].map((q) => Math.round((q * N) / 4)), N])];
      const points: [number, number][] = [];
      for (const length of lengths) {
        const prefix = engine.tensor(Int32Array.from({ length }, (_, i) => (i === 0 ? C + classes[0]! : (i * 37) % C)), [1, length], 'i32');
        const ms = await timeRuns(async () => finish(causal.forward(prefix, { logitsColumns: C, lastOnly: true })), 1, 0);
        prefix.dispose();
        points.push([length, ms]);
      }
      arMs = interpolatedSum(points, N);
      atLength = Object.fromEntries(points.map(([l, ms]) => [l, round(ms)]));
    }
  }
  return {
    bench: 'decode',
    config: options.name,
    tokens: N,
    steps,
    maskgit_ms: maskgitMs,
    maskgit_step_ms: round(stepMs, 2),
    maskgit_ms_by_steps: bySteps,
    ar_ms: arMs === null ? null : round(arMs),
    ar_kv_ms: arKvMs === null ? null : round(arKvMs),
    ratio: arMs === null ? null : round(arMs / maskgitMs, 2),
    flop_ratio: round(flops.autoregressive / flops.maskgit, 2),
    kv_ratio: arKvMs === null ? null : round(arKvMs / maskgitMs, 3),
    kv_flop_ratio: round(flops.autoregressiveCached / flops.maskgit, 4),
    maskgit_gflop: round(flops.maskgit / 1e9, 2),
    ar_gflop: round(flops.autoregressive / 1e9, 2),
    ar_kv_gflop: round(flops.autoregressiveCached / 1e9, 3),
    maskgit_gflops: round(flops.maskgit / (maskgitMs * 1e6), 2),
    extrapolated: full
      ? false
      : `MaskGIT: the last 2 of ${steps} steps timed and scaled; cached AR: the first ${Math.min(N, 32)} of ${N} tokens timed, scaled by FLOPs; ` +
        `uncached AR: the causal forward timed at prefix lengths ${Object.keys(atLength ?? {}).join(', ')} and interpolated over 1..${N}`,
    ...(atLength ? { ar_step_ms_at_length: atLength } : {}),
    seconds: round((performance.now() - started) / 1000, 0),
  };
}
