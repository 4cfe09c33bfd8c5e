import type { ParamSpec, Weights } from '../maskgit/weights.js';
import { attention } from '../tensor/ops/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { Linear } from './linear.js';
import { Module } from './module.js';

export interface MultiHeadAttentionOptions {
  /** Query i attends to keys j <= i only (the autoregressive baseline). Default false. */
  causal?: boolean;
}

/**
 * Multi-head self-attention with one fused QKV projection: `${prefix}.qkv` ([H, 3H], columns
 * q | k | v, each head-major) and `${prefix}.out` ([H, H]), both with biases; scores scaled by
 * 1/sqrt(head width). forward(x [B, L, H], residual?) = out(attention(qkv(x))) + residual, the
 * residual fused into the output projection's epilogue.
 * A KV cache for causal decoding reuses the projections with ops.attentionQKV (separate
 * query and key lengths, kvLength for a partly filled cache).
 */
export class MultiHeadAttention extends Module {
  readonly hidden: number;
  readonly heads: number;
  readonly causal: boolean;
  readonly qkv: Linear;
  readonly out: Linear;

  constructor(weights: Weights, prefix: string, hidden: number, heads: number, options: MultiHeadAttentionOptions = {}) {
    super(prefix);
    this.hidden = hidden;
    this.heads = heads;
    this.causal = options.causal ?? false;
    this.qkv = new Linear(weights, this.name('qkv'), hidden, 3 * hidden);
    this.out = new Linear(weights, this.name('out'), hidden, hidden);
  }

  params(): ParamSpec[] {
    return [...this.qkv.params(), ...this.out.params()];
  }

  forward(x: Tensor, residual?: Tensor): Tensor {
    const qkv = this.qkv.forward(x);
    const heads = attention(qkv, { heads: this.heads, causal: this.causal });
    return this.out.forward(heads, residual ? { residual } : {});
  }
}
