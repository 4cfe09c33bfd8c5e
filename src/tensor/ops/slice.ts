import sliceSource from '../../../kernels/slice.wgsl';
import { ShapeError } from '../../errors.js';
import type { DType } from '../dtype.js';
import { defineKernel } from '../kernel.js';
import type { Tensor } from '../tensor.js';

const SLICE = defineKernel('slice', sliceSource);
const WG = 64;

/**
 * Columns [start, start + width) of the last axis, as a new dense tensor [..., width]
 * (e.g. logits [B, L, vocab] -> [B, L, codebook]).
 */
export function sliceLastAxis<D extends DType>(x: Tensor<D>, start: number, width: number): Tensor<D> {
  const engine = x.engine;
  if (x.rank < 1) throw new ShapeError('sliceLastAxis: x must have rank >= 1');
  const cols = x.shape[x.rank - 1]!;
  if (!Number.isInteger(start) || !Number.isInteger(width) || start < 0 || width < 0 || start + width > cols) {
    throw new ShapeError(`sliceLastAxis: columns [${start}, ${start + width}) are not inside the last axis of ${cols}`);
  }
  const out = engine.empty([...x.shape.slice(0, -1), width], x.dtype);
  if (out.size === 0) return out;
  const rows = x.size / cols;
  const [gy, gz] = engine.grid(rows);
  engine.run({
    kernel: SLICE,
    defines: { T: x.dtype, WG },
    params: [rows, cols, start, width],
    inputs: [x],
    outputs: [out],
    workgroups: [Math.ceil(width / WG), gy, gz],
  });
  return out;
}
