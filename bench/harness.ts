import type { Engine } from '../src/node.js';

/** One result line: ours against one peer (or none) on the same adapter, in one process. */
export interface BenchRow {
  kernel: string;
  /** MxKxN for GEMMs, "tokens x heads x head_dim" for attention, HxWxCinxCout for convs... */
  shape: string;
  ours_ms: number;
  peer: string | null;
  peer_ms: number | null;
  /** Our throughput, when the work has a FLOP count. */
  gflops: number | null;
  /** Anything else worth recording (extrapolated, memory, notes). */
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

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Median wall time of `work` from submission to GPU completion, after warm-up. `work`
 * records GPU commands and returns a function that submits them and resolves when the GPU is
 * done (so each runtime is timed to onSubmittedWorkDone on the same device).
 */
export async function timeIt(work: () => Promise<void>, options: { runs: number; warmup: number }): Promise<number> {
  for (let i = 0; i < options.warmup; i++) await work();
  const times: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    const t0 = performance.now();
    await work();
    times.push(performance.now() - t0);
  }
  return median(times);
}

export function gflops(flop: number, ms: number): number {
  return flop / (ms * 1e-3) / 1e9;
}

export function formatTable(rows: BenchRow[]): string {
  const header = ['kernel', 'shape', 'ours ms', 'GFLOP/s', 'peer', 'peer ms', 'speedup'];
  const body = rows.map((r) => [
    r.kernel,
    r.shape,
    r.ours_ms.toFixed(2),
    r.gflops === null ? '-' : r.gflops.toFixed(2),
    r.peer ?? '-',
    r.peer_ms === null ? '-' : r.peer_ms.toFixed(2),
    r.peer_ms === null ? '-' : (r.peer_ms / r.ours_ms).toFixed(2) + 'x',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 || i === 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function formatPeerTable(rows: PeerRow[]): string {
  const header = ['peer kernel', 'shape', 'dtype', 'peer', 'subgroups', 'peer ms', 'GFLOP/s', 'max abs err', 'max |ref|', 'note'];
  const num = (v: number | null, digits: number) => (v === null ? '-' : Number.isFinite(v) ? v.toFixed(digits) : String(v));
  const body = rows.map((r) => [
    r.peer_kernel,
    r.shape,
    r.dtype,
    r.peer,
    typeof r.subgroups === 'boolean' ? (r.subgroups ? 'yes' : 'no') : '-',
    num(r.peer_ms, 2),
    num(r.gflops, 2),
    r.max_abs_error === null ? '-' : r.max_abs_error.toExponential(2),
    num(r.max_abs_reference, 3),
    typeof r.failure === 'string' ? r.failure.slice(0, 60) : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const left = new Set([0, 1, 2, 3, 4, 9]);
  const line = (cells: string[]) => cells.map((c, i) => (left.has(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
