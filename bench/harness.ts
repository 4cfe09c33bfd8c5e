import type { Engine, Tensor } from '../src/node.js';
import { ratioSpread, timeAlternating, type RunTiming } from '../src/timing.js';

/** One result line: ours against one peer (or none) on the same adapter, in one process. */
export interface BenchRow {
  kernel: string;
  /** MxKxN for GEMMs, "tokens x heads x head_dim" for attention, HxWxCinxCout for convs... */
  shape: string;
  /** Median ms of our timed runs; the fastest and the slowest. */
  ours_ms: number;
  ours_min_ms: number;
  ours_max_ms: number;
  peer: string | null;
  peer_ms: number | null;
  peer_min_ms: number | null;
  peer_max_ms: number | null;
  /** peer_ms / ours_ms; its min and max are the same ratio per round (both ran in each). */
  speedup: number | null;
  speedup_min: number | null;
  speedup_max: number | null;
  /** Our throughput, when the work has a FLOP count. */
  gflops: number | null;
  /** Timed rounds, and untimed warm-up rounds before them. */
  runs: number;
  warmup: number;
  /** 'alternating': ours and the peer(s) took turns, one run each per round (src/timing.ts); 'alone': no peer in this row. */
  timing: 'alternating' | 'alone';
  /** false for measured rows; otherwise how the figures were extrapolated (shown in every output). */
  extrapolated: false | string;
  /** Anything else worth recording (memory, notes). */
  [extra: string]: unknown;
}

/**
 * A peer measured alone (no kernel of ours to compare with: peer baselines and peer
 * self-checks). `peer_kernel` instead of `kernel` keeps these records apart from BenchRows in
 * the JSON stream. peer_ms is null for an untimed correctness check.
 */
export interface PeerRow {
  peer_kernel: string;
  shape: string;
  dtype: string;
  peer: string;
  peer_ms: number | null;
  /** The fastest and slowest timed run, and the rounds (timed, then warm-up) behind peer_ms. */
  peer_min_ms?: number | null;
  peer_max_ms?: number | null;
  runs?: number;
  warmup?: number;
  /** The peer's throughput, when the work has a FLOP count and was timed. */
  gflops: number | null;
  /** Max abs error against a plain JS reference on the same inputs; null if not checked. */
  max_abs_error: number | null;
  /** Max |reference|, the scale to read the error against. */
  max_abs_reference: number | null;
  /** Whether the peer's device had the subgroups feature, where that matters. */
  subgroups?: boolean;
  /** Why the peer failed to build or run this (then peer_ms and the errors are null). */
  failure?: string;
  [extra: string]: unknown;
}

export interface BenchOptions {
  json: boolean;
  runs: number;
  warmup: number;
}

export interface BenchContext {
  engine: Engine;
  options: BenchOptions;
  emit(row: BenchRow): void;
  /** Records a peer-only measurement or check (see PeerRow). */
  emitPeer(row: PeerRow): void;
  log(line: string): void;
}

/** A named part of the benchmark suite (`--only <name>` selects it). */
export interface BenchGroup {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<void>;
}

/** Work that resolves when it is complete on the GPU (recorded, submitted, queue done). */
export type Runner = () => Promise<unknown>;

/** Runs `work` (which records GPU work and returns its output) and waits for the GPU; the output is freed. */
export function gpuRunner(engine: Engine, work: () => Tensor): Runner {
  return async () => {
    work().dispose();
    await engine.sync();
  };
}

/** The timings of one timeRunners call, and the pipelines our engine compiled during its timed rounds (0 when warm). */
export interface Timed {
  timings: RunTiming[];
  pipelinesCompiledWhileTimed: number;
}

/**
 * Every row's timing (src/timing.ts): warm-up rounds, then alternating single runs of each
 * runner, ours and the peers'. ctx.options gives the rounds unless `rounds` overrides them
 * (rows whose single run takes seconds).
 */
export async function timeRunners(ctx: BenchContext, runners: readonly Runner[], rounds: { runs: number; warmup: number } = ctx.options): Promise<Timed> {
  let before = 0;
  const timings = await timeAlternating(runners, { ...rounds, afterWarmup: () => void (before = ctx.engine.stats().pipelinesCompiled) });
  return { timings, pipelinesCompiledWhileTimed: ctx.engine.stats().pipelinesCompiled - before };
}

/** The timing columns of a BenchRow: ours = timings[ours], the peer (if any) = timings[peer.index] from the same rounds. */
export function rowTiming(timed: Timed, ours: number, peer: { name: string; index: number } | null, extrapolated: false | string = false) {
  const o = timed.timings[ours]!;
  const p = peer ? timed.timings[peer.index]! : null;
  const ratio = p ? ratioSpread(p, o) : null;
  const fourDigits = (v: number) => Number(v.toPrecision(4));
  return {
    ours_ms: fourDigits(o.ms),
    ours_min_ms: fourDigits(o.minMs),
    ours_max_ms: fourDigits(o.maxMs),
    peer: peer?.name ?? null,
    peer_ms: p ? fourDigits(p.ms) : null,
    peer_min_ms: p ? fourDigits(p.minMs) : null,
    peer_max_ms: p ? fourDigits(p.maxMs) : null,
    speedup: p ? fourDigits(p.ms / o.ms) : null,
    speedup_min: ratio ? fourDigits(ratio.min) : null,
    speedup_max: ratio ? fourDigits(ratio.max) : null,
    runs: o.times.length,
    warmup: o.warmup,
    timing: timed.timings.length > 1 ? ('alternating' as const) : ('alone' as const),
    extrapolated,
    ours_cpu_ms: o.cpuMs === null ? null : fourDigits(o.cpuMs),
    ...(p ? { peer_cpu_ms: p.cpuMs === null ? null : fourDigits(p.cpuMs) } : {}),
    pipelines_compiled_while_timed: timed.pipelinesCompiledWhileTimed,
  };
}

/** Deterministic inputs in [-0.5, 0.5) without a generator's cost. */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (((i * 2654435761 + seed * 40503) >>> 0) % 1000) / 1000 - 0.5;
  return out;
}

export function gflops(flop: number, ms: number): number {
  return flop / (ms * 1e-3) / 1e9;
}

const range = (min: number | null, max: number | null) => (min === null || max === null ? '-' : `${fixed(min)}-${fixed(max)}`);
/** Two decimals under 100, whole numbers above (tfjs's convs take seconds). */
const fixed = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2));

/**
 * The text table of `npm run bench`: medians with their min-max over the timed runs, the
 * speedup with its per-round range, the rounds, and an `extrapolated` note on every row whose
 * figures were not all measured (the JSON rows say how in `extrapolated`).
 */
export function formatTable(rows: BenchRow[]): string {
  const header = ['kernel', 'shape', 'ours ms', '(min-max)', 'GFLOP/s', 'peer', 'peer ms', '(min-max)', 'speedup', '(min-max)', 'runs', 'note'];
  const body = rows.map((r) => [
    r.kernel,
    r.shape,
    fixed(r.ours_ms),
    range(r.ours_min_ms, r.ours_max_ms),
    r.gflops === null ? '-' : r.gflops.toFixed(2),
    r.peer ?? '-',
    r.peer_ms === null ? '-' : fixed(r.peer_ms),
    range(r.peer_min_ms, r.peer_max_ms),
    r.speedup === null ? '-' : r.speedup.toFixed(2) + 'x',
    range(r.speedup_min, r.speedup_max),
    `${r.runs}+${r.warmup}w`,
    r.extrapolated ? 'EXTRAPOLATED (see JSON)' : '',
  ]);
  const notes = [
    'Medians of the timed runs (min-max); ours and the peer alternate single runs after warm-up (runs: timed + w warm-up rounds);',
    'speedup = peer ms / ours ms, its range over the rounds.',
  ];
  return [textTable(header, body, new Set([0, 1, 5, 11])), '', ...notes].join('\n');
}

/** Columns padded to their widest cell; `left` columns left-aligned, the others right-aligned. */
function textTable(header: string[], body: string[][], left: ReadonlySet<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (left.has(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function formatPeerTable(rows: PeerRow[]): string {
  const header = ['peer kernel', 'shape', 'dtype', 'peer', 'subgroups', 'peer ms', '(min-max)', 'GFLOP/s', 'max abs err', 'max |ref|', 'note'];
  const num = (v: number | null, digits: number) => (v === null ? '-' : Number.isFinite(v) ? v.toFixed(digits) : String(v));
  const body = rows.map((r) => [
    r.peer_kernel,
    r.shape,
    r.dtype,
    r.peer,
    typeof r.subgroups === 'boolean' ? (r.subgroups ? 'yes' : 'no') : '-',
    num(r.peer_ms, 2),
    range(r.peer_min_ms ?? null, r.peer_max_ms ?? null),
    num(r.gflops, 2),
    r.max_abs_error === null ? '-' : r.max_abs_error.toExponential(2),
    num(r.max_abs_reference, 3),
    typeof r.failure === 'string' ? r.failure.slice(0, 60) : '',
  ]);
  return textTable(header, body, new Set([0, 1, 2, 3, 4, 10]));
}
