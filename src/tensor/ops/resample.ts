import resampleSource from '../../../kernels/resample.wgsl';
import { ShapeError } from '../../errors.js';
import { f32 } from '../engine.js';
import { defineKernel } from '../kernel.js';
import type { Tensor } from '../tensor.js';
import type { FloatDType } from './conv.js';
import { lanesFor } from './groupnorm.js';

const RESAMPLE = defineKernel('resample', resampleSource);
const COLS = 16;

/** Nearest x2 upsampling (`up`) or 2x2 pooling of NHWC `x`, times `scale`. */
export function resample2x<D extends FloatDType>(op: string, x: Tensor<D>, up: boolean, scale: number): Tensor<D> {
  const engine = x.engine;
  if (x.rank !== 4) throw new ShapeError(`${op}: x must be NHWC [B, H, W, C], got [${x.shape.join(', ')}]`);
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new ShapeError(`${op}: x must be f32 or f16, got ${x.dtype}`);
  const [B, H, W, C] = x.shape as [number, number, number, number];
  if (!up && (H % 2 !== 0 || W % 2 !== 0)) throw new ShapeError(`${op}: H and W must be even, got ${H}x${W}; pad or crop the image first`);
  const [outH, outW] = up ? [2 * H, 2 * W] : [H / 2, W / 2];
  const out = engine.empty([B, outH, outW, C], x.dtype);
  if (out.size === 0) return out;
  if (B * outH > engine.device.limits.maxComputeWorkgroupsPerDimension) {
    throw new ShapeError(`${op}: batch x height ${B * outH} exceeds ${engine.device.limits.maxComputeWorkgroupsPerDimension}; split the batch`);
  }
  const vec = C % 4 === 0;
  const cv = vec ? C / 4 : C;
  engine.run({
    kernel: RESAMPLE,
    defines: { T: x.dtype, VEC: vec, WG: lanesFor(cv), COLS, UP: up, POOL: !up },
    params: [H, W, outH, outW, cv, f32(scale)],
    inputs: [x],
    outputs: [out],
    workgroups: [Math.ceil(outW / COLS), B * outH],
  });
  return out;
}

/** Nearest-neighbour x2 upsampling of NHWC `x` [B, H, W, C] to [B, 2H, 2W, C]. */
export function upsampleNearest2x<D extends FloatDType>(x: Tensor<D>): Tensor<D> {
  return resample2x('upsampleNearest2x', x, true, 1);
}

/** 2x2 average pooling (stride 2) of NHWC `x` [B, H, W, C] (H, W even) to [B, H/2, W/2, C]. */
export function avgPool2x2<D extends FloatDType>(x: Tensor<D>): Tensor<D> {
  return resample2x('avgPool2x2', x, false, 0.25);
}
