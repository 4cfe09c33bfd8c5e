import { describeValue } from '../arguments.js';
import { ArgumentError } from '../errors.js';

/**
 * Mask schedules gamma(r): the fraction of the N0 initially unknown tokens still masked
 * after a step whose ratio is r = (t + 1) / T. "uniform" is the official code's name for
 * "linear"; "pow<e>" takes any exponent (square = pow2, cubic = pow3, sqrt = pow0.5).
 */
export type MaskSchedule =
  | 'cosine'
  | 'linear'
  | 'uniform'
  | 'square'
  | 'cubic'
  | 'sqrt'
  | 'log'
  | 'exp'
  | `pow${number}`;

const f = Math.fround;
const MIN_RATIO = f(1e-6);
const HALF_PI = f(Math.PI / 2);

function powExponent(schedule: string): number | null {
  if (schedule === 'square') return 2;
  if (schedule === 'cubic') return 3;
  if (schedule === 'sqrt') return 0.5;
  if (schedule.startsWith('pow')) {
    const e = Number(schedule.slice(3));
    if (schedule.length > 3 && Number.isFinite(e) && e > 0) return e;
  }
  return null;
}

/** Throws ArgumentError unless `schedule` names a known schedule. */
export function checkSchedule(schedule: string): asserts schedule is MaskSchedule {
  if (typeof schedule !== 'string') throw new ArgumentError('schedule', `must be a schedule name (cosine, linear, ...), got ${describeValue(schedule)}`);
  const known = ['cosine', 'linear', 'uniform', 'log', 'exp'];
  if (!known.includes(schedule) && powExponent(schedule) === null) {
    throw new ArgumentError('schedule', `unknown mask schedule "${schedule}"; use cosine, linear (uniform), square, cubic, sqrt, pow<e>, log or exp`);
  }
}

/**
 * gamma(ratio) in float32, as the official JAX code computes it (every operation rounded
 * to float32), clipped to [1e-6, 1]. `total` is N0, used by the log and exp schedules.
 */
export function maskRatio(schedule: MaskSchedule, ratio: number, total: number): number {
  checkSchedule(schedule);
  const r = f(ratio);
  let g: number;
  if (schedule === 'cosine') g = f(Math.cos(f(HALF_PI * r)));
  else if (schedule === 'linear' || schedule === 'uniform') g = f(1 - r);
  else if (schedule === 'log') g = f(f(-f(Math.log2(r))) / f(Math.log2(total)));
  else if (schedule === 'exp') g = f(1 - f(2 ** f(f(-f(Math.log2(total))) * f(1 - r))));
  else g = f(1 - f(r ** powExponent(schedule)!));
  // NaN (log2(1) = 0 for N0 = 1) clips to the upper bound, as jnp.clip would not; N0 = 1
  // decodes in one step whatever the ratio, so only a finite value matters here.
  if (Number.isNaN(g)) return 1;
  return Math.min(Math.max(g, MIN_RATIO), 1);
}

/** The step's ratio (t + 1) / T in float32. */
export function stepRatio(step: number, steps: number): number {
  return f(f(step + 1) / steps);
}

/**
 * floor(N0 * gamma((t + 1) / T)) in float32 for every step t of 0..T-1: the schedule's
 * share of N0 before the clamp to [1, unknown - 1] (which the GPU applies with the live
 * unknown count).
 */
export function scheduleCuts(schedule: MaskSchedule, total: number, steps: number): number[] {
  checkSteps(steps, 0);
  const cuts: number[] = [];
  for (let t = 0; t < steps; t++) cuts.push(Math.floor(f(f(total) * maskRatio(schedule, stepRatio(t, steps), total))));
  return cuts;
}

/** mask_len = max(1, min(unknownNow - 1, cut)): how many tokens a step leaves masked. */
export function maskLength(unknownNow: number, cut: number): number {
  return Math.max(1, Math.min(unknownNow - 1, cut));
}

/**
 * Tokens still masked after each step t = startStep..T-2 when decoding starts with N0
 * unknown tokens (the last step fills everything). Exact whenever the confidences do not
 * tie at a cut (then the official rule re-masks fewer; the GPU follows the live count).
 */
export function maskCounts(schedule: MaskSchedule, total: number, steps: number, startStep = 0): number[] {
  checkSteps(steps, startStep);
  const cuts = scheduleCuts(schedule, total, steps);
  const counts: number[] = [];
  let unknown = total;
  for (let t = startStep; t < steps - 1; t++) {
    if (unknown > 0) unknown = maskLength(unknown, cuts[t]!); // nothing unknown: nothing to re-mask
    counts.push(unknown);
  }
  return counts;
}

/** Decoding runs at most this many steps: far more than any schedule needs (the paper uses 8-12, the demo 16). */
export const MAX_DECODE_STEPS = 1024;

export function checkSteps(steps: number, startStep: number): void {
  if (!Number.isInteger(steps) || steps < 1) throw new ArgumentError('steps', `must be a positive integer (the number of decoding steps, e.g. 8), got ${describeValue(steps)}`);
  if (steps > MAX_DECODE_STEPS) throw new ArgumentError('steps', `${steps} is more than the ${MAX_DECODE_STEPS} decoding supports`);
  if (!Number.isInteger(startStep) || startStep < 0 || startStep >= steps) {
    throw new ArgumentError('startStep', `must be an integer in [0, ${steps - 1}] (below steps), got ${describeValue(startStep)}`);
  }
}
