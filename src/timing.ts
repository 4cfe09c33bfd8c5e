/**
 * The one timing discipline of every comparison in this package (`npm run bench`, `maskgit
 * bench`): warm-up rounds, then timed rounds in which every runner (ours, each peer or
 * baseline) runs once; medians and the spread (min, max) per runner, and the per-round
 * ratio of two runners. Rounds alternate the order (even rounds as given, odd rounds
 * reversed: A B, B A, A B, ...), so that neither side always runs first after the other and
 * a load that rises or falls during a row falls on all runners alike.
 */

/** One runner's timed runs: wall time from the call to its promise resolving. */
export interface RunTiming {
  /** Median wall time of one run, ms. */
  ms: number;
  minMs: number;
  maxMs: number;
  /** Median CPU time of this process during one run (user + system, every thread: a CPU adapter's work too); null where the platform has no process.cpuUsage. */
  cpuMs: number | null;
  /** Each timed run's wall time, ms, in round order. */
  times: number[];
  /** Untimed rounds run before (at least 1: the first run compiles pipelines). */
  warmup: number;
}

/** The spread of a ratio between two runners over the rounds where both ran. */
export interface RatioSpread {
  median: number;
  min: number;
  max: number;
}

export interface AlternatingOptions {
  /** Timed rounds (at least 1). */
  runs: number;
  /** Untimed rounds first; at least 1 is run whatever is asked. */
  warmup: number;
  /** Called once between the warm-up and the timed rounds (e.g. to read a pipeline counter). */
  afterWarmup?: () => void | Promise<void>;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

type CpuClock = () => { user: number; system: number };
const cpuClock: CpuClock | null = typeof process !== 'undefined' && typeof process.cpuUsage === 'function' ? () => process.cpuUsage() : null;

/**
 * Runs `runners` in `options.warmup` (at least 1) untimed rounds, then `options.runs` timed
 * rounds, each runner once per round, the order reversed every other round. Each runner must
 * resolve when its work is complete (for GPU work: submitted and the queue done).
 */
export async function timeAlternating(runners: readonly (() => Promise<unknown>)[], options: AlternatingOptions): Promise<RunTiming[]> {
  if (runners.length === 0) throw new Error('timeAlternating: no runners');
  const runs = Math.max(1, Math.floor(options.runs));
  const warmup = Math.max(1, Math.floor(options.warmup));
  const order = (round: number) => (round % 2 === 0 ? runners.map((_, i) => i) : runners.map((_, i) => runners.length - 1 - i));
  for (let round = 0; round < warmup; round++) for (const i of order(round)) await runners[i]!();
  await options.afterWarmup?.();
  const wall: number[][] = runners.map(() => []);
  const cpu: number[][] = runners.map(() => []);
  for (let round = 0; round < runs; round++) {
    for (const i of order(round)) {
      const c0 = cpuClock?.();
      const t0 = performance.now();
      await runners[i]!();
      wall[i]!.push(performance.now() - t0);
      if (c0 && cpuClock) {
        const c1 = cpuClock();
        cpu[i]!.push((c1.user - c0.user + c1.system - c0.system) / 1000);
      }
    }
  }
  return wall.map((times, i) => ({
    ms: median(times),
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
    cpuMs: cpu[i]!.length ? median(cpu[i]!) : null,
    times,
    warmup,
  }));
}

/** numerator / denominator per round (both from the same timeAlternating call): median, min, max. */
export function ratioSpread(numerator: RunTiming, denominator: RunTiming): RatioSpread {
  if (numerator.times.length !== denominator.times.length) throw new Error('ratioSpread: the timings come from different rounds');
  const ratios = numerator.times.map((t, i) => t / denominator.times[i]!);
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}
