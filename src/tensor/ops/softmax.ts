import softmaxSource from '../../../kernels/softmax.wgsl';
import { ShapeError } from '../../errors.js';
import type { DType } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { kernelWithSnippets, rowReduction, SNIPPETS } from './snippets.js';

const SOFTMAX = kernelWithSnippets('softmax', softmaxSource, [SNIPPETS.workgroupReduce]);
const WG = 64;

/** Softmax over the last axis (max-subtracted, f32 arithmetic); same shape and dtype. */
export function softmax<D extends DType>(x: Tensor<D>): Tensor<D> {
  const engine = x.engine;
  if (x.rank < 1) throw new ShapeError('softmax: x must have rank >= 1');
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new ShapeError(`softmax: x is ${x.dtype}; cast it to f32 or f16`);
  const cols = x.shape[x.rank - 1]!;
  const out = engine.empty(x.shape, x.dtype);
  if (out.size === 0) return out;
  const rows = x.size / cols;
  engine.run({
    kernel: SOFTMAX,
    defines: { T: x.dtype, ...rowReduction(engine, WG) },
    params: [rows, cols],
    inputs: [x],
    outputs: [out],
    workgroups: engine.grid(rows),
  });
  return out;
}
