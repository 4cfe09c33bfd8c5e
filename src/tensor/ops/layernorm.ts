import layerNormSource from '../../../kernels/layernorm.wgsl';
import { ShapeError } from '../../errors.js';
import { f32 } from '../engine.js';
import type { Tensor } from '../tensor.js';
import { kernelWithSnippets, rowReduction, SNIPPETS } from './snippets.js';

const LAYERNORM = kernelWithSnippets('layernorm', layerNormSource, [SNIPPETS.workgroupReduce]);
const WG = 64;

export interface LayerNormOptions {
  /** Added to the variance. Official MaskGIT: 1e-12. Default 1e-5. */
  eps?: number;
}

/**
 * LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * scale + bias, with scale and
 * bias of shape [last]. f32 statistics (two passes) for f32 and f16 storage; scale and bias
 * may have another float dtype than x. The output has x's shape and dtype.
 */
export function layerNorm(x: Tensor, scale: Tensor, bias: Tensor, options: LayerNormOptions = {}): Tensor {
  const engine = x.engine;
  const eps = options.eps ?? 1e-5;
  if (x.rank < 1) throw new ShapeError('layerNorm: x must have rank >= 1');
  const cols = x.shape[x.rank - 1]!;
  for (const [name, t] of [['scale', scale], ['bias', bias]] as const) {
    if (t.rank !== 1 || t.shape[0] !== cols) {
      throw new ShapeError(`layerNorm: ${name} has shape [${t.shape.join(', ')}], expected [${cols}] (the last axis of x); reshape it`);
    }
  }
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new ShapeError(`layerNorm: x is ${x.dtype}; cast it to f32 or f16`);
  if (scale.dtype !== bias.dtype || (scale.dtype !== 'f32' && scale.dtype !== 'f16')) {
    throw new ShapeError(`layerNorm: scale (${scale.dtype}) and bias (${bias.dtype}) must share one float dtype`);
  }
  if (!(eps > 0)) throw new ShapeError(`layerNorm: eps must be > 0, got ${eps}`);
  const out = engine.empty(x.shape, x.dtype);
  const rows = cols === 0 ? 0 : x.size / cols;
  if (out.size === 0) return out;
  const v4 = cols % 4 === 0;
  engine.run({
    kernel: LAYERNORM,
    defines: { T: x.dtype, P: scale.dtype, V4: v4, ...rowReduction(engine, WG) },
    params: [rows, v4 ? cols / 4 : cols, f32(cols), f32(eps)],
    inputs: [x, scale, bias],
    outputs: [out],
    workgroups: engine.grid(rows),
  });
  return out;
}
