/** The benchmark tables of README.md and docs/BENCHMARKS.md from a committed record (see bench-tables.mjs). */
export interface BenchRecord {
  header: {
    date: string;
    command: string;
    node: string;
    node_flags: string[];
    adapter: { vendor: string; architecture: string; device: string; description: string; features: string[] };
    machine: { cpus: number; cpu_model: string; memory_gib: number };
    loadavg_start: number[];
  };
  end: { date: string; seconds: number; loadavg_end: number[] } | null;
  rows: ({ kernel: string; group: string; ours_ms: number; ours_min_ms: number; ours_max_ms: number; peer: string | null; warmup: number; timing: string; extrapolated: false | string } & Record<string, unknown>)[];
  peerRows: ({ peer_kernel: string } & Record<string, unknown>)[];
}
/** A file with generated tables (path relative to the repo) and the form it gets. */
export interface TableTarget {
  file: string;
  form: 'short' | 'full';
}
export const TARGETS: TableTarget[];
export function parseRecord(text: string): BenchRecord;
export function renderTables(record: BenchRecord, recordPath: string, target: TableTarget): string;
export function regenerate(text: string, target: TableTarget, recordPath?: string): string;
