// Differentiable convolution, normalisation, activation and resampling ops of the VQGAN tokenizer.
import { ShapeError } from '../../errors.js';
import { record, type Variable } from '../autograd.js';
import * as ops from '../ops/index.js';
import type { FloatDType } from '../ops/conv.js';
import type { Tensor } from '../tensor.js';

export interface Conv2dGradOptions {
  /** [Cout], added to every output pixel. */
  bias?: Variable;
  /** Shaped like the output; added after the bias (fused residual). */
  residual?: Variable;
  /** Read the input through a nearest x2 upsampling. */
  upsample?: boolean;
}

/**
 * conv2d (NHWC x, HWIO w, stride 1, SAME; ops.conv2dForTraining) with gradients: dx is the transposed
 * conv (ops.conv2dInputGrad), dw the correlation of x with dy over every pixel
 * (ops.conv2dFilterGrad), dbias the sum of dy over pixels, dresidual dy itself.
 */
export function conv2d(x: Variable, w: Variable, options: Conv2dGradOptions = {}): Variable {
  const { bias, residual, upsample } = options;
  // f32 on CPU adapters through the GEMM, everything else through ops.conv2d.
  const value = ops.conv2dForTraining(x.value, w.value, {
    ...(bias && { bias: bias.value }),
    ...(residual && { residual: residual.value }),
    ...(upsample && { upsample: true }),
  });
  const k = w.shape[0]!;
  const inputs = [x, w, ...(bias ? [bias] : []), ...(residual ? [residual] : [])];
  return record('conv2d', value, inputs, (g) => {
    const grads: (Tensor | null)[] = [
      x.requiresGrad ? ops.conv2dInputGrad(g, w.value, { upsample: !!upsample }) : null,
      w.requiresGrad ? ops.conv2dFilterGrad(x.value, g, k, { upsample: !!upsample }) : null,
    ];
    if (bias) grads.push(bias.requiresGrad ? ops.sumToChannels(g) : null);
    // A view of g: autograd frees g itself after this node.
    if (residual) grads.push(residual.requiresGrad ? g.reshape(residual.shape) : null);
    return grads;
  });
}

export interface GroupNormGradOptions {
  groups: number;
  eps: number;
  /** x * sigmoid(x) of the normalised output (fused). */
  swish?: boolean;
}

/** GroupNorm (+ fused swish) of NHWC x with per-channel scale and bias (ops.groupNorm), with gradients. */
export function groupNorm(x: Variable, scale: Variable, bias: Variable, options: GroupNormGradOptions): Variable {
  const { out, stats } = ops.groupNormWithStats(x.value as Tensor<FloatDType>, scale.value as Tensor<FloatDType>, bias.value as Tensor<FloatDType>, options);
  return record(
    'group_norm',
    out,
    [x, scale, bias],
    (g) => {
      const { dx, dscale, dbias } = ops.groupNormBackward(x.value, scale.value, bias.value, stats, g, options);
      return [dx, dscale, dbias];
    },
    [stats],
  );
}

/** x * sigmoid(x). */
export function swish(x: Variable): Variable {
  return record('swish', ops.swish(x.value), [x], (g) => [ops.swishGrad(x.value, g)]);
}

function checkNHWC(op: string, x: Variable): void {
  if (x.value.rank !== 4) throw new ShapeError(`${op}: x must be NHWC [B, H, W, C], got [${x.shape.join(', ')}]`);
}

/** 2x2 average pooling; its gradient spreads dy / 4 over each 2x2 block (upsampling times 1/4). */
export function avgPool2x2(x: Variable): Variable {
  checkNHWC('avgPool2x2', x);
  return record('avg_pool_2x2', ops.avgPool2x2(x.value as Tensor<FloatDType>), [x], (g) => [ops.resample2x('avgPool2x2 backward', g as Tensor<FloatDType>, true, 0.25)]);
}

/** Nearest x2 upsampling; its gradient sums each 2x2 block of dy. */
export function upsampleNearest2x(x: Variable): Variable {
  checkNHWC('upsampleNearest2x', x);
  return record('upsample_nearest_2x', ops.upsampleNearest2x(x.value as Tensor<FloatDType>), [x], (g) => [ops.resample2x('upsampleNearest2x backward', g as Tensor<FloatDType>, false, 1)]);
}
