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
import { median, timeAlternating } from '../timing.js';
import { BidirectionalTransformer } from './transformer.js';
import type { Weights } from './weights.js';

export interface DecodeBenchOptions {
  /** Shown in the result. */
  name: string;
  /** MaskGIT step counts to time (the first is the headline); default [8]. */
  steps?: readonly number[];
  /**
   * Timed rounds (default 1), after `warmup` untimed ones (default 1, at least 1). Every way
   * runs once per round, in alternating order (src/timing.ts): MaskGIT at each step count, the
   * cached and the uncached baseline. A warm-up round runs everything the timed rounds run, so
   * the uncached baseline has met every prefix length (every pipeline compiled) before timing.
   */
  runs?: number;
  warmup?: number;
  /**
   * 'full': every way run end to end. 'extrapolate': a few steps of each, scaled (for sizes
   * that take too long here): MaskGIT's last 2 steps (every step does the same work), the
   * cached baseline's first 32 tokens scaled by FLOPs, the uncached one's forward timed at
   * prefix lengths 1, N/4, N/2, 3N/4, N and a least-squares quadratic in the length (the
   * cost's form: GEMMs linear, attention quadratic) summed over every length. Default 'full'.
   */
  mode?: 'full' | 'extrapolate';
  /** Time the autoregressive baseline too (default true). */
  autoregressive?: boolean;
  /** Class label of the generated image (default 0). */
  classLabel?: number;
  /** Called before each run (warm-up or timed) of each way. */
  onPhase?: (phase: string, index: number, phases: number) => void;
}

/** The spread of one figure over the timed rounds. */
export interface DecodeSpread {
  median: number;
  min: number;
  max: number;
}

/** One JSON record: {"bench":"decode","config","maskgit_ms","ar_ms","ar_kv_ms","ratio","flop_ratio","extrapolated",...}. */
export interface DecodeBenchResult {
  bench: 'decode';
  config: string;
  tokens: number;
  steps: number;
  /** Medians over the timed rounds (per round: measured, or extrapolated from that round's runs). */
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
  /** min-max over the timed rounds of each figure, and of the ratios within a round. */
  spread: { maskgit_ms: DecodeSpread; ar_ms: DecodeSpread | null; ar_kv_ms: DecodeSpread | null; ratio: DecodeSpread | null; kv_ratio: DecodeSpread | null };
  maskgit_gflop: number;
  ar_gflop: number;
  ar_kv_gflop: number;
  maskgit_gflops: number;
  /** Timed rounds and warm-up rounds; every way ran once per round, alternating order. */
  runs: number;
  warmup: number;
  /** Pipelines compiled during the timed rounds (0: everything was warm). */
  pipelines_compiled_while_timed: number;
  /** false, or how the times were extrapolated. */
  extrapolated: false | string;
  /** Extrapolated rows: the uncached step's median ms at the prefix lengths timed. */
  ar_step_ms_at_length?: Record<string, number>;
  /** Extrapolated rows: the quadratic fitted to those (ms = a + b l + c l^2) and its largest miss at a timed length. */
  ar_step_fit?: { a: number; b: number; c: number; max_residual_ms: number };
  seconds: number;
}

const round = (v: number, digits = 1) => Number(v.toFixed(digits));

/** Reads the tokens back (the GPU has finished) and frees them. */
async function finish(t: Tensor): Promise<void> {
  await t.read();
  t.dispose();
}

/** The least-squares fit ms = a + b l + c l^2 of (length, ms) points (at least 3 distinct lengths). */
export function fitQuadratic(points: readonly (readonly [number, number])[]): { a: number; b: number; c: number; maxResidual: number } {
  if (new Set(points.map(([l]) => l)).size < 3) throw new ArgumentError('points', 'a quadratic fit needs at least 3 distinct lengths');
  // Normal equations in a scaled variable (u = l / max l) for conditioning, solved by Gaussian elimination.
  const scale = Math.max(...points.map(([l]) => l));
  const m = [0, 0, 0].map(() => [0, 0, 0, 0]);
  for (const [l, y] of points) {
    const u = [1, l / scale, (l / scale) ** 2];
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) m[i]![j]! += u[i]! * u[j]!;
      m[i]![3]! += u[i]! * y;
    }
  }
  for (let i = 0; i < 3; i++) {
    const pivot = m[i]![i]!;
    for (let j = i; j < 4; j++) m[i]![j]! /= pivot;
    for (let k = 0; k < 3; k++) {
      if (k === i) continue;
      const f = m[k]![i]!;
      for (let j = i; j < 4; j++) m[k]![j]! -= f * m[i]![j]!;
    }
  }
  const [a, bu, cu] = [m[0]![3]!, m[1]![3]!, m[2]![3]!];
  const fit = { a, b: bu / scale, c: cu / scale ** 2 };
  const maxResidual = Math.max(...points.map(([l, y]) => Math.abs(fit.a + fit.b * l + fit.c * l * l - y)));
  return { ...fit, maxResidual };
}

/** Sum over lengths 1..n of the quadratic fitted to the (length, ms) points. */
export function fittedQuadraticSum(points: readonly (readonly [number, number])[], n: number): number {
  const { a, b, c } = fitQuadratic(points);
  // sum l = n(n+1)/2, sum l^2 = n(n+1)(2n+1)/6
  return a * n + (b * n * (n + 1)) / 2 + (c * n * (n + 1) * (2 * n + 1)) / 6;
}

function spreadOf(values: readonly number[], digits = 1): DecodeSpread {
  return { median: round(median(values), digits), min: round(Math.min(...values), digits), max: round(Math.max(...values), digits) };
}

/**
 * Times token generation of one image with the transformer in `weights` (transformerParams
 * of `transformer`): MaskGIT for each step count and the autoregressive baseline uncached and
 * cached, in alternating rounds after warm-up (src/timing.ts). Everything runs to a readback
 * of the tokens.
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
  const warmup = options.warmup ?? 1;
  checkInteger('runs', runs, 1);
  checkInteger('warmup', warmup, 1);
  const full = (options.mode ?? 'full') === 'full';
  const withAR = options.autoregressive ?? true;
  const classes = [options.classLabel ?? 0];
  const model = new BidirectionalTransformer(weights, c);
  const engine = model.embed.word.engine;
  const logits = { engine, forward: (tokens: Tensor<'i32'>) => model.forward(tokens, { logitsColumns: C }) };
  const causal = withAR ? new CausalTransformer(weights, c) : null;

  // The ways to time, each one runner of the alternating rounds.
  const ways: { label: string; run: () => Promise<void> }[] = [];
  const maskgitTimed = (steps: number) => (full ? steps : 2); // extrapolated: the last 2 steps (a re-mask and the final draw)
  for (const steps of stepsList) {
    const timed = maskgitTimed(steps);
    ways.push({ label: `MaskGIT ${steps} steps${full ? '' : ` (last ${timed})`}`, run: async () => finish(await decodeTokens(logits, config, { classes, steps, startStep: steps - timed })) });
  }
  const kvTokens = full ? N : Math.min(N, 32);
  const lengths = [...new Set([1, ...[1, 2, 3].map((q) => Math.round((q * N) / 4)), N])];
  const prefixes: Tensor<'i32'>[] = [];
  if (causal) {
    ways.push({ label: `autoregressive, KV cache${full ? '' : ` (first ${kvTokens} tokens)`}`, run: async () => finish(await decodeAutoregressive(causal, config, { classes, cache: true, tokens: kvTokens })) });
    if (full) ways.push({ label: 'autoregressive, uncached', run: async () => finish(await decodeAutoregressive(causal, config, { classes, cache: false })) });
    else {
      for (const length of lengths) {
        const prefix = engine.keep(engine.tensor(Int32Array.from({ length }, (_, i) => (i === 0 ? C + classes[0]! : (i * 37) % C)), [1, length], 'i32'));
        prefixes.push(prefix);
        ways.push({ label: `autoregressive, uncached: the forward over ${length} tokens`, run: () => finish(causal.forward(prefix, { logitsColumns: C, lastOnly: true })) });
      }
    }
  }
  const total = ways.length * (warmup + runs);
  let calls = 0;
  const counts = ways.map(() => 0);
  const runners = ways.map((way, i) => () => {
    const k = counts[i]++;
    options.onPhase?.(`${k < warmup ? `warm-up ${k + 1}/${warmup}` : `run ${k - warmup + 1}/${runs}`}: ${way.label}`, calls++, total);
    return way.run();
  });
  let pipelinesBefore = 0;
  let timings;
  try {
    timings = await timeAlternating(runners, { runs, warmup, afterWarmup: () => void (pipelinesBefore = engine.stats().pipelinesCompiled) });
  } finally {
    for (const p of prefixes) p.dispose();
  }
  const pipelinesWhileTimed = engine.stats().pipelinesCompiled - pipelinesBefore;

  // Per timed round: each figure, measured or extrapolated from that round's runs.
  const rounds = Array.from({ length: runs }, (_, r) => r);
  const bySteps: Record<string, number> = {};
  const perRound = (i: number, scale: number) => rounds.map((r) => timings[i]!.times[r]! * scale);
  stepsList.forEach((steps, i) => (bySteps[steps] = round(median(perRound(i, steps / maskgitTimed(steps))))));
  const steps = stepsList[0]!;
  const maskgitRounds = perRound(0, steps / maskgitTimed(steps));
  const flops = decodeFlops(c, N, steps, C);
  let kvRounds: number[] | null = null;
  let arRounds: number[] | null = null;
  let atLength: Record<string, number> | undefined;
  let fit: DecodeBenchResult['ar_step_fit'];
  if (causal) {
    const kv = stepsList.length;
    kvRounds = perRound(kv, full ? 1 : flops.autoregressiveCached / cachedStepsFlop(c, kvTokens, C));
    if (full) arRounds = perRound(kv + 1, 1);
    else {
      const pointsOf = (r: number) => lengths.map((l, j) => [l, timings[kv + 1 + j]!.times[r]!] as const);
      arRounds = rounds.map((r) => fittedQuadraticSum(pointsOf(r), N));
      const medians = lengths.map((l, j) => [l, timings[kv + 1 + j]!.ms] as const);
      atLength = Object.fromEntries(medians.map(([l, ms]) => [l, round(ms)]));
      const q = fitQuadratic(medians);
      fit = { a: round(q.a, 3), b: round(q.b, 5), c: round(q.c, 7), max_residual_ms: round(q.maxResidual, 2) };
    }
  }
  const ratios = (num: number[] | null) => (num ? num.map((v, r) => v / maskgitRounds[r]!) : null);
  const arRatio = ratios(arRounds);
  const kvRatio = ratios(kvRounds);
  const maskgitMs = round(median(maskgitRounds));
  return {
    bench: 'decode',
    config: options.name,
    tokens: N,
    steps,
    maskgit_ms: maskgitMs,
    maskgit_step_ms: round(median(maskgitRounds) / steps, 2),
    maskgit_ms_by_steps: bySteps,
    ar_ms: arRounds ? round(median(arRounds)) : null,
    ar_kv_ms: kvRounds ? round(median(kvRounds)) : null,
    ratio: arRatio ? round(median(arRatio), 2) : null,
    flop_ratio: round(flops.autoregressive / flops.maskgit, 2),
    kv_ratio: kvRatio ? round(median(kvRatio), 3) : null,
    kv_flop_ratio: round(flops.autoregressiveCached / flops.maskgit, 4),
    spread: {
      maskgit_ms: spreadOf(maskgitRounds),
      ar_ms: arRounds ? spreadOf(arRounds) : null,
      ar_kv_ms: kvRounds ? spreadOf(kvRounds) : null,
      ratio: arRatio ? spreadOf(arRatio, 2) : null,
      kv_ratio: kvRatio ? spreadOf(kvRatio, 3) : null,
    },
    maskgit_gflop: round(flops.maskgit / 1e9, 2),
    ar_gflop: round(flops.autoregressive / 1e9, 2),
    ar_kv_gflop: round(flops.autoregressiveCached / 1e9, 3),
    maskgit_gflops: round(flops.maskgit / (maskgitMs * 1e6), 2),
    runs,
    warmup,
    pipelines_compiled_while_timed: pipelinesWhileTimed,
    extrapolated: full
      ? false
      : `MaskGIT: the last 2 of ${steps} steps timed and scaled; cached AR: the first ${kvTokens} of ${N} tokens timed, scaled by FLOPs; ` +
        `uncached AR: the causal forward timed at prefix lengths ${lengths.join(', ')} and a least-squares quadratic in the length summed over 1..${N}`,
    ...(atLength ? { ar_step_ms_at_length: atLength, ar_step_fit: fit } : {}),
    seconds: round((performance.now() - started) / 1000, 0),
  };
}
