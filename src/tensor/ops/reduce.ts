import reduceAxisSource from '../../../kernels/reduce_axis.wgsl';
import reduceSource from '../../../kernels/reduce.wgsl';
import { ShapeError } from '../../errors.js';
import { isFloat, type DType } from '../dtype.js';
import { defineKernel } from '../kernel.js';
import { checkOperand, checkShape, type Tensor } from '../tensor.js';

const REDUCE = defineKernel('reduce', reduceSource);
const REDUCE_AXIS = defineKernel('reduce_axis', reduceAxisSource);
const WG = 64;

const IDENTITY = {
  sum: { f32: '0.0', i32: '0', u32: '0u' },
  max: { f32: '-3.4028234663852886e38', i32: '-2147483647 - 1', u32: '0u' },
} as const;

function reduceLast<D extends DType>(kind: 'sum' | 'max', a: Tensor<D>, keepDims: boolean): Tensor<D> {
  checkOperand(kind, 'a', a);
  const engine = a.engine;
  if (a.rank === 0) throw new ShapeError(`${kind}: needs a tensor of rank >= 1`);
  const cols = a.shape[a.rank - 1]!;
  const rows = a.size / Math.max(cols, 1);
  const outShape = keepDims ? [...a.shape.slice(0, -1), 1] : a.shape.slice(0, -1);
  const out = engine.empty(outShape, a.dtype);
  if (out.size === 0) return out;
  const acc = isFloat(a.dtype) ? 'f32' : a.dtype === 'i32' ? 'i32' : 'u32';
  engine.run({
    kernel: REDUCE,
    defines: { T: a.dtype, ACC: acc, IS_MAX: kind === 'max', IDENTITY: IDENTITY[kind][acc], WG, SUBGROUPS: engine.hasSubgroups },
    params: [rows, cols],
    inputs: [a],
    outputs: [out],
    workgroups: engine.grid(rows),
  });
  return out;
}

/** Sum over the last axis (floats accumulate in f32). */
export function sum<D extends DType>(a: Tensor<D>, options: { keepDims?: boolean } = {}): Tensor<D> {
  return reduceLast('sum', a, options.keepDims ?? false);
}

/** Maximum over the last axis. */
export function max<D extends DType>(a: Tensor<D>, options: { keepDims?: boolean } = {}): Tensor<D> {
  return reduceLast('max', a, options.keepDims ?? false);
}

/** Sums a [A, R, C] view over R -> [A, C] (float dtypes). */
function sumMiddle<D extends DType>(x: Tensor<D>, a: number, r: number, c: number): Tensor<D> {
  const engine = x.engine;
  const out = engine.empty([a, c], x.dtype);
  if (out.size === 0) return out;
  const maxGrid = engine.device.limits.maxComputeWorkgroupsPerDimension;
  if (a > maxGrid) throw new ShapeError(`sumTo: ${a} outer rows exceed the dispatch limit ${maxGrid}`);
  engine.run({
    kernel: REDUCE_AXIS,
    defines: { T: x.dtype, WG },
    params: [a, r, c],
    inputs: [x],
    outputs: [out],
    workgroups: [Math.ceil(c / WG), a],
  });
  return out;
}

/**
 * Sums `x` down to `shape`, the inverse of broadcasting `shape` up to x's shape: every axis
 * where `shape` has 1 (or is missing on the left) is summed. The gradient of a broadcast.
 */
export function sumTo<D extends DType>(x: Tensor<D>, shape: readonly number[]): Tensor<D> {
  checkOperand('sumTo', 'x', x);
  checkShape(shape, 'sumTo: shape');
  if (!isFloat(x.dtype)) throw new ShapeError(`sumTo: needs a float tensor, got ${x.dtype}`);
  if (shape.length > x.rank) throw new ShapeError(`sumTo: [${x.shape.join(', ')}] cannot be summed to the longer shape [${shape.join(', ')}]`);
  const offset = x.rank - shape.length;
  // Collapse into runs of kept / reduced axes.
  const runs: { reduced: boolean; size: number }[] = [];
  x.shape.forEach((d, i) => {
    const target = i < offset ? 1 : shape[i - offset]!;
    if (target !== d && target !== 1) {
      throw new ShapeError(`sumTo: [${shape.join(', ')}] does not broadcast to [${x.shape.join(', ')}] (axis ${i})`);
    }
    if (d === 1) return;
    const reduced = target === 1;
    const last = runs[runs.length - 1];
    if (last && last.reduced === reduced) last.size *= d;
    else runs.push({ reduced, size: d });
  });
  if (!runs.some((r) => r.reduced)) return x.reshape(shape);
  // One pass per reduced run, innermost first, each a [A, R, C] middle-axis sum.
  let current: Tensor<D> = x;
  for (let k = runs.length - 1; k >= 0; k--) {
    if (!runs[k]!.reduced) continue;
    const a = runs.slice(0, k).reduce((n, r) => n * r.size, 1);
    const c = runs.slice(k + 1).reduce((n, r) => n * r.size, 1);
    const next = sumMiddle(current, a, runs[k]!.size, c);
    if (current !== x) current.dispose();
    current = next;
    runs[k] = { reduced: false, size: 1 };
  }
  const out = current.reshape(shape);
  current.dispose();
  return out;
}
