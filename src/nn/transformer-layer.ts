import type { TransformerConfig } from '../maskgit/config.js';
import type { ParamSpec, Weights } from '../maskgit/weights.js';
import type { Activation } from '../tensor/ops/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { MultiHeadAttention } from './attention.js';
import { LayerNorm } from './layernorm.js';
import { Linear } from './linear.js';
import { Module } from './module.js';

/** The GEMM-epilogue activation for a config's GELU form. */
export function geluActivation(form: TransformerConfig['gelu']): Activation {
  return form === 'erf' ? 'gelu_erf' : 'gelu_tanh';
}

/**
 * A post-LayerNorm (BERT-style) encoder layer:
 *   x = LN(x + Attn(x));  x = LN(x + fc2(GELU(fc1(x))))
 * Parameters under `${prefix}`: attn.{qkv,out}.{weight,bias}, attn.ln.{scale,bias},
 * mlp.fc1.{weight,bias}, mlp.fc2.{weight,bias}, mlp.ln.{scale,bias}. The residual adds and
 * the GELU are fused into the GEMM epilogues; dropout is not applied (inference).
 */
export class TransformerLayer extends Module {
  readonly attn: MultiHeadAttention;
  readonly attnNorm: LayerNorm;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly mlpNorm: LayerNorm;
  readonly activation: Activation;

  constructor(weights: Weights, prefix: string, config: TransformerConfig, options: { causal?: boolean } = {}) {
    super(prefix);
    const H = config.hiddenSize;
    this.attn = new MultiHeadAttention(weights, this.name('attn'), H, config.numHeads, options);
    this.attnNorm = new LayerNorm(weights, this.name('attn.ln'), H, config.layerNormEps);
    this.fc1 = new Linear(weights, this.name('mlp.fc1'), H, config.mlpSize);
    this.fc2 = new Linear(weights, this.name('mlp.fc2'), config.mlpSize, H);
    this.mlpNorm = new LayerNorm(weights, this.name('mlp.ln'), H, config.layerNormEps);
    this.activation = geluActivation(config.gelu);
  }

  params(): ParamSpec[] {
    return [...this.attn.params(), ...this.attnNorm.params(), ...this.fc1.params(), ...this.fc2.params(), ...this.mlpNorm.params()];
  }

  /** x [B, L, H] -> [B, L, H]. Intermediates are left to the caller's scope. */
  forward(x: Tensor): Tensor {
    const h = this.attnNorm.forward(this.attn.forward(x, x));
    const m = this.fc1.forward(h, { activation: this.activation });
    return this.mlpNorm.forward(this.fc2.forward(m, { residual: h }));
  }
}
