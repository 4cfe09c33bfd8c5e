import { expect } from 'vitest';

export interface Tolerance {
  atol: number;
  rtol?: number;
}

/** Largest |a - e| and the index where it occurs. */
export function maxAbsError(actual: ArrayLike<number>, expected: ArrayLike<number>): { error: number; index: number } {
  let error = 0;
  let index = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (d > error || Number.isNaN(d)) {
      error = Number.isNaN(d) ? Infinity : d;
      index = i;
    }
  }
  return { error, index };
}

/** Asserts |a - e| <= atol + rtol * |e| everywhere, naming the worst element on failure. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, what = 'values'): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const rtol = tol.rtol ?? 0;
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    const excess = Math.abs(a - e) - (tol.atol + rtol * Math.abs(e));
    if (excess > worstExcess || Number.isNaN(a) !== Number.isNaN(e)) {
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    expect.fail(
      `${what}: element ${worst} is ${actual[worst]} but expected ${expected[worst]} ` +
        `(atol ${tol.atol}, rtol ${rtol}; max abs error ${maxAbsError(actual, expected).error})`,
    );
  }
}
