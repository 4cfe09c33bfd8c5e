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

export interface BenchOptions {
  json: boolean;
  runs: number;
  warmup: number;
}

export interface BenchContext {
  engine: Engine;
  options: BenchOptions;
  emit(row: BenchRow): void;
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
