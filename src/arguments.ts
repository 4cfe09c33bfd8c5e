import { ArgumentError } from './errors.js';

/**
 * Checks for values that reach public functions from users (options objects, files, the
 * command line): each throws ArgumentError naming the argument, before anything is allocated.
 */

export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol' || typeof v === 'function') return typeof v;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v !== null && typeof v === 'object') return 'an object';
  return String(v);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** An options object: undefined gives {}. */
export function optionsObject<T extends object>(name: string, v: T | undefined): T {
  if (v === undefined) return {} as T;
  if (!isPlainObject(v)) throw new ArgumentError(name, `must be an object of options, got ${describeValue(v)}`);
  return v;
}

export function checkFunction(name: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'function') throw new ArgumentError(name, `must be a function, got ${describeValue(v)}`);
}

export function checkOneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): asserts v is T | undefined {
  if (v !== undefined && !(allowed as readonly unknown[]).includes(v)) {
    throw new ArgumentError(name, `must be ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describeValue(v)}`);
  }
}

export function checkInteger(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new ArgumentError(name, `must be an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? 'any' : max}], got ${describeValue(v)}`);
  }
}
