import { getWeight, type Weights } from '../maskgit/weights.js';
import type { FloatDType } from '../tensor/ops/conv.js';
import { groupNorm } from '../tensor/ops/groupnorm.js';
import type { Tensor } from '../tensor/tensor.js';

/** GroupNorm over the channels (last axis) of NHWC activations, with `scale` and `bias` [C]. */
export class GroupNorm {
  constructor(
    readonly scale: Tensor,
    readonly bias: Tensor,
    readonly groups: number,
    readonly eps: number,
  ) {}

  static fromWeights(weights: Weights, prefix: string, channels: number, groups: number, eps: number): GroupNorm {
    return new GroupNorm(getWeight(weights, `${prefix}.scale`, [channels]), getWeight(weights, `${prefix}.bias`, [channels]), groups, eps);
  }

  /** Normalised, scaled and shifted; with `swish`, x * sigmoid(x) of that (fused). */
  forward(x: Tensor, swish = false): Tensor {
    return groupNorm(x as Tensor<FloatDType>, this.scale as Tensor<FloatDType>, this.bias as Tensor<FloatDType>, { groups: this.groups, eps: this.eps, swish });
  }
}
