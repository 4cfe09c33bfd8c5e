import groupnormSource from '../../../kernels/groupnorm.wgsl';
import { ShapeError } from '../../errors.js';
import { f32, type Engine } from '../engine.js';
import { defineKernel } from '../kernel.js';
import type { Tensor } from '../tensor.js';
import type { FloatDType } from './conv.js';
import { layoutFor } from './layout.js';

const GROUPNORM = defineKernel('groupnorm', groupnormSource);
/** Chunks per image at most in the CPU layout. */
const CPU_CHUNKS = 8;

export interface GroupNormOptions {
  /** Number of channel groups (must divide the channel count). Official VQGAN: 32. */
  groups: number;
  /** Added to the variance. Official VQGAN: 1e-6. */
  eps: number;
  /** Apply swish (x * sigmoid(x)) to the normalised output. */
  swish?: boolean;
}

/** Lanes for a loop over n items: a power of two between 8 (the CPU SIMD width) and 64. */
export function lanesFor(n: number): number {
  return Math.min(64, Math.max(8, 2 ** Math.ceil(Math.log2(Math.max(n, 1)))));
}

/**
 * GroupNorm of NHWC `x` [B, H, W, C] (any rank >= 2: channels last, batch first) with
 * per-channel `scale` and `bias` [C]: each (batch item, group of C / groups channels) is
 * normalised by its mean and population variance over all its pixels and channels, then
 * scaled and shifted; `swish` applies x * sigmoid(x) after. Statistics in f32.
 */
export function groupNorm<D extends FloatDType>(x: Tensor<D>, scale: Tensor<D>, bias: Tensor<D>, options: GroupNormOptions): Tensor<D> {
  const { out, stats } = groupNormWithStats(x, scale, bias, options);
  stats.dispose();
  return out;
}

/** The statistics groupNorm used, per (batch item, group): [B, groups, 2] f32 of (mean, 1 / sqrt(variance + eps)). */
export interface GroupNormResult<D extends FloatDType> {
  out: Tensor<D>;
  stats: Tensor<'f32'>;
}

/**
 * How groupNorm and its backward split each image's pixels: a workgroup per (chunk, image) in
 * the passes over the pixels. GPU layout: chunks of ~1/256 of the image (at least 16 pixels);
 * CPU layout (workgroupLayout): at most CPU_CHUNKS chunks of at least 256 pixels, so that a
 * training batch makes a few dozen workgroups, not thousands. The chunks depend on the image
 * alone, never on the batch: image i of a batch is summed exactly as it is alone (bit-identical
 * results, test/determinism.test.ts).
 */
export function groupNormChunks(engine: Engine, pixels: number): { chunk: number; chunks: number } {
  const chunk = layoutFor(engine) === 'cpu' ? Math.max(256, Math.ceil(pixels / CPU_CHUNKS)) : Math.max(16, Math.ceil(pixels / 256));
  return { chunk, chunks: Math.ceil(pixels / chunk) };
}

/** groupNorm that also returns its statistics (for the backward pass). */
export function groupNormWithStats<D extends FloatDType>(x: Tensor<D>, scale: Tensor<D>, bias: Tensor<D>, options: GroupNormOptions): GroupNormResult<D> {
  const engine = x.engine;
  if (x.rank < 2) throw new ShapeError(`groupNorm: x must be [B, ..., C], got [${x.shape.join(', ')}]`);
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new ShapeError(`groupNorm: x must be f32 or f16, got ${x.dtype}`);
  const B = x.shape[0]!;
  const C = x.shape[x.rank - 1]!;
  const pixels = x.size / Math.max(B * C, 1);
  const { groups, eps } = options;
  if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0) {
    throw new ShapeError(`groupNorm: ${groups} groups must divide the ${C} channels of x [${x.shape.join(', ')}]`);
  }
  for (const [name, t] of [['scale', scale], ['bias', bias]] as const) {
    if (t.rank !== 1 || t.shape[0] !== C) throw new ShapeError(`groupNorm: ${name} must be [${C}], got [${t.shape.join(', ')}]`);
    if (t.dtype !== x.dtype) throw new ShapeError(`groupNorm: ${name} is ${t.dtype} but x is ${x.dtype}; cast it first`);
  }
  const out = engine.empty(x.shape, x.dtype);
  if (out.size === 0) return { out, stats: engine.zeros([B, groups, 2]) };
  const vec = C % 4 === 0;
  const cv = vec ? C / 4 : C;
  const { chunk, chunks } = groupNormChunks(engine, pixels);
  const params = [pixels, C, cv, chunk, chunks, C / groups, groups, f32(eps)];
  const common = { T: x.dtype, VEC: vec, SWISH: !!options.swish, IS_STATS: false, IS_FINAL: false, IS_APPLY: false };
  return engine.tidy(() => {
    const partial = engine.empty([B, chunks, 2, C], 'f32');
    const stats = engine.empty([B, groups, 2], 'f32');
    engine.run({
      kernel: GROUPNORM,
      defines: { ...common, IS_STATS: true, WG: lanesFor(cv) },
      params,
      inputs: [x],
      outputs: [partial],
      workgroups: [chunks, B],
    });
    engine.run({
      kernel: GROUPNORM,
      defines: { ...common, VEC: false, IS_FINAL: true, WG: lanesFor(groups) },
      params,
      inputs: [x, partial],
      outputs: [stats],
      workgroups: [B],
    });
    engine.run({
      kernel: GROUPNORM,
      defines: { ...common, IS_APPLY: true, WG: lanesFor(cv) },
      params,
      inputs: [x, stats, scale, bias],
      outputs: [out],
      workgroups: [chunks, B],
    });
    return { out, stats };
  });
}
