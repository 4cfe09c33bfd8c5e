import crossEntropySource from '../../../kernels/cross_entropy.wgsl';
import { ShapeError } from '../../errors.js';
import { record, type Variable } from '../autograd.js';
import { f32 } from '../engine.js';
import { defineKernel } from '../kernel.js';
import { add, mul, sub } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { abs, affine, positive, relu, scale, sign, square } from '../ops/unary.js';
import type { Tensor } from '../tensor.js';

const CROSS_ENTROPY = defineKernel('cross_entropy', crossEntropySource);
const WG = 64;

export interface CrossEntropyOptions {
  /** Label smoothing s: the target puts 1 - s + s/C on the label and s/C elsewhere. Default 0. */
  smoothing?: number;
  /** Only the first `classes` logits of each row take part (default: all). */
  classes?: number;
  /** Multiplies every row's loss (default 1 / sum of weights, i.e. the weighted mean). */
  scale?: number;
}

/**
 * Weighted softmax cross-entropy over the last axis, as a scalar:
 *   sum_r w_r * scale * CE(logits_r, target_r)   (MaskGIT: w = 1 on masked positions only).
 * The gradient comes out of the same kernel pass as the loss.
 */
export function softmaxCrossEntropy(
  logits: Variable,
  targets: Tensor<'i32'>,
  weights: Tensor,
  options: CrossEntropyOptions & { weightSum?: number } = {},
): Variable {
  const x = logits.value;
  if (x.dtype !== 'f32') throw new ShapeError(`softmaxCrossEntropy: logits must be f32, got ${x.dtype}`);
  const stride = x.shape[x.rank - 1]!;
  const rows = x.size / stride;
  if (targets.size !== rows || weights.size !== rows) {
    throw new ShapeError(`softmaxCrossEntropy: ${rows} rows of logits need ${rows} targets and weights, got ${targets.size} and ${weights.size}`);
  }
  const classes = options.classes ?? stride;
  if (!(classes >= 1 && classes <= stride)) throw new ShapeError(`softmaxCrossEntropy: classes ${classes} must be in [1, ${stride}]`);
  const smoothing = options.smoothing ?? 0;
  const scale = options.scale ?? (options.weightSum ? 1 / options.weightSum : 1 / rows);
  const engine = x.engine;
  const rowLoss = engine.empty([1, rows]);
  const dlogits = engine.empty(x.shape);
  engine.run({
    kernel: CROSS_ENTROPY,
    defines: { WG, SUBGROUPS: engine.hasSubgroups },
    params: [rows, stride, classes, f32(smoothing), f32(scale)],
    inputs: [x, targets, weights],
    outputs: [rowLoss, dlogits],
    workgroups: engine.grid(rows),
  });
  const loss = sum(rowLoss);
  rowLoss.dispose();
  return record('softmax_cross_entropy', loss, [logits], (g) => [mul(dlogits, g.reshape([1]))], [dlogits]);
}

/** The mean of every element of `t` as a [1] tensor. */
function meanOfAll(t: Tensor): Tensor {
  const flat = t.reshape([1, t.size]);
  const total = sum(flat);
  flat.dispose();
  const mean = scale(total, 1 / t.size);
  total.dispose();
  return mean;
}

function checkTarget(op: string, x: Tensor, target: Tensor): void {
  if (x.shape.join() !== target.shape.join()) {
    throw new ShapeError(`${op}: target [${target.shape.join(', ')}] must match the prediction [${x.shape.join(', ')}]`);
  }
}

/**
 * mean(penalty(prediction - target)) over every element, as a scalar [1], for a constant target;
 * the gradient is factor * slope(d) / n, slope keeping what it needs of d = prediction - target.
 */
function differenceLoss(name: string, prediction: Variable, target: Tensor, penalty: (d: Tensor) => Tensor, slope: { of: (d: Tensor) => Tensor; factor: number }): Variable {
  const x = prediction.value;
  checkTarget(name, x, target);
  const diff = sub(x, target);
  const penalties = penalty(diff);
  const loss = meanOfAll(penalties);
  penalties.dispose();
  const slopes = slope.of(diff);
  if (slopes !== diff) diff.dispose();
  return record(name, loss, [prediction], (g) => [mul(slopes, scale(g, slope.factor / x.size))], [slopes]);
}

/** mean((prediction - target)^2) over every element, as a scalar [1] (target: a constant tensor). */
export function meanSquaredError(prediction: Variable, target: Tensor): Variable {
  return differenceLoss('meanSquaredError', prediction, target, square, { of: (d) => d, factor: 2 });
}

/** mean(|prediction - target|) over every element, as a scalar [1]; the gradient at a tie is 0. */
export function meanAbsoluteError(prediction: Variable, target: Tensor): Variable {
  return differenceLoss('meanAbsoluteError', prediction, target, abs, { of: sign, factor: 1 });
}

/**
 * The hinge loss of a discriminator's logits, mean(relu(1 - label * x)), as a scalar [1]:
 * label +1 for real images, -1 for generated ones (taming-transformers' hinge_d_loss is half
 * the sum of the two).
 */
export function hingeLoss(logits: Variable, label: 1 | -1): Variable {
  if (label !== 1 && label !== -1) throw new ShapeError(`hingeLoss: label must be 1 (real) or -1 (generated), got ${String(label)}`);
  const x = logits.value;
  const n = x.size;
  const margin = affine(x, -label, 1);
  const hinge = relu(margin);
  const loss = meanOfAll(hinge);
  hinge.dispose();
  const active = positive(margin);
  margin.dispose();
  return record('hinge_loss', loss, [logits], (g) => [mul(active, scale(g, -label / n))], [active]);
}

/** The mean of every element, as a scalar [1] (e.g. the generator's adversarial loss -mean(D(x))). */
export function mean(x: Variable): Variable {
  const n = x.value.size;
  return record('mean', meanOfAll(x.value), [x], (g) => [add(x.value.engine.zeros(x.shape, g.dtype), scale(g, 1 / n))]);
}

/**
 * sum(x * weights) over every element, as a scalar [1], with constant `weights` shaped like x.
 * Its gradient with respect to x is `weights`: backward() through it sends a precomputed
 * gradient into a graph (e.g. a weighted sum of several losses' gradients at one node).
 */
export function innerProduct(x: Variable, weights: Tensor): Variable {
  checkTarget('innerProduct', x.value, weights);
  const products = mul(x.value, weights);
  const flat = products.reshape([1, products.size]);
  const value = sum(flat);
  flat.dispose();
  products.dispose();
  return record('inner_product', value, [x], (g) => [mul(weights, g.reshape([1]))]);
}
