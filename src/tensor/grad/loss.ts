import crossEntropySource from '../../../kernels/cross_entropy.wgsl';
import { ShapeError } from '../../errors.js';
import { record, type Variable } from '../autograd.js';
import { f32 } from '../engine.js';
import { defineKernel } from '../kernel.js';
import { mul, sub } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { scale, square } from '../ops/unary.js';
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

/** mean((prediction - target)^2) over every element, as a scalar [1] (target: a constant tensor). */
export function meanSquaredError(prediction: Variable, target: Tensor): Variable {
  const x = prediction.value;
  if (x.shape.join() !== target.shape.join()) {
    throw new ShapeError(`meanSquaredError: target [${target.shape.join(', ')}] must match the prediction [${x.shape.join(', ')}]`);
  }
  const n = x.size;
  const diff = sub(x, target);
  const flat = diff.reshape([1, n]);
  const squares = square(flat);
  flat.dispose();
  const total = sum(squares);
  squares.dispose();
  const loss = scale(total, 1 / n);
  total.dispose();
  return record('mean_squared_error', loss, [prediction], (g) => [mul(diff, scale(g, 2 / n))], [diff]);
}
