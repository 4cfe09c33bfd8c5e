import { ShapeError } from '../errors.js';
import { getWeight, type Weights } from '../maskgit/weights.js';
import { conv2d, type FloatDType } from '../tensor/ops/conv.js';
import type { Tensor } from '../tensor/tensor.js';

export interface Conv2dCall {
  /** Added to the output (a fused residual connection); shaped like the output. */
  residual?: Tensor;
  /** Read the input through a nearest x2 upsampling (the output is twice as large). */
  upsample?: boolean;
  /** Clamp the output to [lo, hi]. */
  clamp?: readonly [number, number];
}

/** A 2-D convolution, NHWC, SAME padding, stride 1, with an HWIO kernel [K, K, Cin, Cout] (K = 1 or 3). */
export class Conv2d {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;

  constructor(
    readonly weight: Tensor,
    readonly bias: Tensor | null = null,
  ) {
    const [kh, kw, cin, cout] = weight.shape as [number, number, number, number];
    if (weight.rank !== 4 || kh !== kw) throw new ShapeError(`Conv2d: the kernel must be HWIO [K, K, Cin, Cout], got [${weight.shape.join(', ')}]`);
    this.kernelSize = kh;
    this.inChannels = cin;
    this.outChannels = cout;
  }

  /** The convolution named `prefix` (`prefix.weight`, and `prefix.bias` when `withBias`). */
  static fromWeights(weights: Weights, prefix: string, k: number, cin: number, cout: number, withBias: boolean): Conv2d {
    return new Conv2d(getWeight(weights, `${prefix}.weight`, [k, k, cin, cout]), withBias ? getWeight(weights, `${prefix}.bias`, [cout]) : null);
  }

  forward(x: Tensor, call: Conv2dCall = {}): Tensor {
    const options = {
      ...(this.bias && { bias: this.bias as Tensor<FloatDType> }),
      ...(call.residual && { residual: call.residual as Tensor<FloatDType> }),
      ...(call.upsample && { upsample: true }),
      ...(call.clamp && { clamp: call.clamp }),
    };
    return conv2d(x as Tensor<FloatDType>, this.weight as Tensor<FloatDType>, options);
  }
}
