import type { ParamSpec, Weights } from '../maskgit/weights.js';
import { layerNorm } from '../tensor/ops/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

/** LayerNorm over the last axis with `${prefix}.scale` and `${prefix}.bias` [size]. */
export class LayerNorm extends Module {
  readonly size: number;
  readonly eps: number;
  readonly scale: Tensor;
  readonly bias: Tensor;

  constructor(weights: Weights, prefix: string, size: number, eps: number) {
    super(prefix);
    this.size = size;
    this.eps = eps;
    this.scale = this.param(weights, 'scale', [size]);
    this.bias = this.param(weights, 'bias', [size]);
  }

  params(): ParamSpec[] {
    return [
      { name: this.name('scale'), shape: [this.size] },
      { name: this.name('bias'), shape: [this.size] },
    ];
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.scale, this.bias, { eps: this.eps });
  }
}
