import groupnormGradSource from '../../../kernels/groupnorm_grad.wgsl';
import { ShapeError } from '../../errors.js';
import { defineKernel } from '../kernel.js';
import type { Tensor } from '../tensor.js';
import { groupNormChunks, lanesFor, type GroupNormOptions } from './groupnorm.js';

const GROUPNORM_GRAD = defineKernel('groupnorm_grad', groupnormGradSource);

export interface GroupNormGrads {
  dx: Tensor;
  dscale: Tensor;
  dbias: Tensor;
}

/**
 * The backward pass of groupNorm (with its optional fused swish): from the forward input `x`,
 * its `stats` (groupNormWithStats: [B, groups, 2] mean and rstd), `scale`, `bias` and the
 * output gradient `dy`, the gradients of x, scale and bias. f32 (training precision).
 */
export function groupNormBackward(x: Tensor, scale: Tensor, bias: Tensor, stats: Tensor, dy: Tensor, options: GroupNormOptions): GroupNormGrads {
  const engine = x.engine;
  for (const t of [x, scale, bias, stats, dy]) {
    if (t.dtype !== 'f32') throw new ShapeError(`groupNormBackward: gradients are computed in f32, got a ${t.dtype} tensor`);
  }
  if (x.rank < 2 || dy.shape.join() !== x.shape.join()) throw new ShapeError(`groupNormBackward: dy [${dy.shape.join(', ')}] must match x [${x.shape.join(', ')}]`);
  const B = x.shape[0]!;
  const C = x.shape[x.rank - 1]!;
  const { groups } = options;
  if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0) throw new ShapeError(`groupNormBackward: ${groups} groups must divide ${C} channels`);
  if (stats.size !== B * groups * 2) throw new ShapeError(`groupNormBackward: stats must be [${B}, ${groups}, 2], got [${stats.shape.join(', ')}]`);
  for (const [name, t] of [['scale', scale], ['bias', bias]] as const) {
    if (t.rank !== 1 || t.shape[0] !== C) throw new ShapeError(`groupNormBackward: ${name} must be [${C}], got [${t.shape.join(', ')}]`);
  }
  const dx = engine.empty(x.shape);
  const dscale = engine.empty([C]);
  const dbias = engine.empty([C]);
  if (x.size === 0) {
    engine.clear(dscale);
    engine.clear(dbias);
    return { dx, dscale, dbias };
  }
  const pixels = x.size / (B * C);
  const vec = C % 4 === 0;
  const cv = vec ? C / 4 : C;
  // The forward's chunking (any would do; the same keeps the passes alike).
  const { chunk, chunks } = groupNormChunks(engine, pixels);
  const params = [pixels, C, cv, chunk, chunks, C / groups, groups, B];
  const none = { IS_PARTIAL: false, IS_REDUCE: false, IS_APPLY: false, COEFS: false };
  const common = { T: x.dtype, SWISH: !!options.swish };
  engine.tidy(() => {
    const partial = engine.empty([B, chunks, 2, C]);
    const chan = engine.empty([B, 2, C]);
    const gm = engine.empty([B, groups, 2]);
    engine.run({
      kernel: GROUPNORM_GRAD,
      defines: { ...common, ...none, VEC: vec, IS_PARTIAL: true, COEFS: true, WG: lanesFor(cv) },
      params,
      inputs: [x, dy, stats, scale, bias],
      outputs: [partial],
      workgroups: [chunks, B],
    });
    engine.run({
      kernel: GROUPNORM_GRAD,
      defines: { ...common, ...none, VEC: false, SWISH: false, IS_REDUCE: true, WG: lanesFor(C) },
      params,
      inputs: [partial, scale],
      outputs: [chan, gm, dscale, dbias],
      workgroups: [B + 1],
    });
    engine.run({
      kernel: GROUPNORM_GRAD,
      defines: { ...common, ...none, VEC: vec, IS_APPLY: true, COEFS: true, WG: lanesFor(cv) },
      params,
      inputs: [x, dy, stats, scale, bias, gm],
      outputs: [dx],
      workgroups: [chunks, B],
    });
  });
  return { dx, dscale, dbias };
}
