import reduceSource from '../../../kernels/reduce.wgsl';
import { ShapeError } from '../../errors.js';
import { isFloat, type DType } from '../dtype.js';
import { defineKernel } from '../kernel.js';
import type { Tensor } from '../tensor.js';

const REDUCE = defineKernel('reduce', reduceSource);
const WG = 64;

const IDENTITY = {
  sum: { f32: '0.0', i32: '0', u32: '0u' },
  max: { f32: '-3.4028234663852886e38', i32: '-2147483647 - 1', u32: '0u' },
} as const;

function reduceLast<D extends DType>(kind: 'sum' | 'max', a: Tensor<D>, keepDims: boolean): Tensor<D> {
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
