import type { ParamSpec, Weights } from '../maskgit/weights.js';
import { matmul, type Activation } from '../tensor/ops/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

export interface LinearOptions {
  /** Default true: `${prefix}.bias` [out] is read and added. */
  bias?: boolean;
}

export interface LinearForwardOptions {
  /** Fused into the GEMM epilogue, after the bias. */
  activation?: Activation;
  /** Fused into the GEMM epilogue, added last (same shape as the output). */
  residual?: Tensor;
}

/** y = act(x @ weight + bias) + residual; weight [in, out] (`${prefix}.weight`), x [..., in]. */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(weights: Weights, prefix: string, inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super(prefix);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = this.param(weights, 'weight', [inFeatures, outFeatures]);
    this.bias = options.bias === false ? null : this.param(weights, 'bias', [outFeatures]);
  }

  params(): ParamSpec[] {
    const specs: ParamSpec[] = [{ name: this.name('weight'), shape: [this.inFeatures, this.outFeatures] }];
    if (this.bias) specs.push({ name: this.name('bias'), shape: [this.outFeatures] });
    return specs;
  }

  forward(x: Tensor, options: LinearForwardOptions = {}): Tensor {
    return matmul(x, this.weight, {
      ...(this.bias ? { bias: this.bias } : {}),
      ...(options.activation ? { activation: options.activation } : {}),
      ...(options.residual ? { residual: options.residual } : {}),
    });
  }
}
