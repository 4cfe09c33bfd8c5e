import layerNormGradSource from '../../../kernels/layernorm_grad.wgsl';
import { ShapeError } from '../../errors.js';
import { f32 } from '../engine.js';
import type { Tensor } from '../tensor.js';
import { sumTo } from './reduce.js';
import { kernelWithSnippets, rowReduction, SNIPPETS } from './snippets.js';

const LAYERNORM_GRAD = kernelWithSnippets('layernorm_grad', layerNormGradSource, [SNIPPETS.workgroupReduce]);
const ROW_WG = 64;
const COL_WG = 64;

export interface LayerNormGrads {
  dx: Tensor;
  dscale: Tensor;
  dbias: Tensor;
}

/**
 * The backward of layerNorm(x, scale, bias, { eps }) for the output gradient g: the gradients
 * of x, scale and bias. The row statistics are recomputed from x (one workgroup per row, as the
 * forward), so the forward need not keep them; the scale and bias gradients are column sums over
 * chunks of rows, then over chunks (no atomics: the same bits on every run). f32 only.
 */
export function layerNormBackward(x: Tensor, scale: Tensor, g: Tensor, options: { eps?: number } = {}): LayerNormGrads {
  const engine = x.engine;
  const eps = options.eps ?? 1e-5;
  for (const [name, t] of [['x', x], ['scale', scale], ['g', g]] as const) {
    if (t.dtype !== 'f32') throw new ShapeError(`layerNormBackward: ${name} is ${t.dtype}; gradients are computed in f32`);
  }
  if (x.rank < 1) throw new ShapeError('layerNormBackward: x must have rank >= 1');
  const cols = x.shape[x.rank - 1]!;
  if (g.shape.join() !== x.shape.join()) throw new ShapeError(`layerNormBackward: g [${g.shape.join(', ')}] must match x [${x.shape.join(', ')}]`);
  if (scale.rank !== 1 || scale.shape[0] !== cols) throw new ShapeError(`layerNormBackward: scale must be [${cols}], got [${scale.shape.join(', ')}]`);
  if (!(eps > 0)) throw new ShapeError(`layerNormBackward: eps must be > 0, got ${eps}`);
  const rows = cols === 0 ? 0 : x.size / cols;
  const dx = engine.empty(x.shape);
  if (rows === 0 || cols === 0) return { dx, dscale: engine.zeros([cols]), dbias: engine.zeros([cols]) };
  const v4 = cols % 4 === 0;
  const chunk = Math.max(16, Math.ceil(rows / 64));
  const chunks = Math.ceil(rows / chunk);
  const none = { IS_ROWS: false, IS_PARAMS: false };
  const sums = engine.tidy(() => {
    const stats = engine.empty([rows, 2]);
    engine.run({
      kernel: LAYERNORM_GRAD,
      defines: { ...none, IS_ROWS: true, V4: v4, ...rowReduction(engine, ROW_WG) },
      params: [rows, v4 ? cols / 4 : cols, f32(cols), f32(eps), chunk],
      inputs: [x, g, scale],
      outputs: [dx, stats],
      workgroups: engine.grid(rows),
    });
    const partial = engine.empty([2, chunks, cols]);
    engine.run({
      kernel: LAYERNORM_GRAD,
      defines: { ...none, IS_PARAMS: true, V4: false, WG: COL_WG, ONE_SUBGROUP: false },
      params: [rows, cols, f32(cols), f32(eps), chunk],
      inputs: [x, g, stats],
      outputs: [partial],
      workgroups: [Math.ceil(cols / COL_WG), chunks],
    });
    return sumTo(partial, [2, 1, cols]);
  });
  const dscale = engine.empty([cols]);
  const dbias = engine.empty([cols]);
  engine.copy(sums, 0, dscale, 0, cols * 4);
  engine.copy(sums, cols * 4, dbias, 0, cols * 4);
  sums.dispose();
  return { dx, dscale, dbias };
}
