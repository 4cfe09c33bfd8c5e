import { ShapeError } from '../errors.js';
import { Embedding } from '../nn/embedding.js';
import { LayerNorm } from '../nn/layernorm.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { geluActivation, TransformerLayer } from '../nn/transformer-layer.js';
import { matmul, type Activation } from '../tensor/ops/index.js';
import type { Tensor } from '../tensor/tensor.js';
import type { TransformerConfig } from './config.js';
import { getWeight, type ParamSpec, type Weights } from './weights.js';

export interface TransformerForwardOptions {
  /**
   * Compute logits for the first `logitsColumns` vocabulary entries only (the codebook, for
   * sampling image tokens): the output is [B, L, logitsColumns], dense. Cheaper than slicing
   * the full logits: the head GEMM reads only those rows of the tied embedding (a view, no
   * copy) and does that fraction of the work. Default: the whole vocabulary.
   */
  logitsColumns?: number;
}

/**
 * The MaskGIT bidirectional transformer, exactly as the official one (BERT-style, post-LN):
 *   x = LN(word[tokens] + position[:L])                     (dropout: off at inference)
 *   N x { x = LN(x + Attn(x)); x = LN(x + fc2(GELU(fc1(x)))) }
 *   logits = LN(GELU(dense(x))) @ word^T + head.bias          (output tied to the embedding)
 * Parameters are those of transformerParams(config) (src/maskgit/weights.ts). Works in the
 * weights' storage dtype (f32, or f16 with f32 accumulation).
 */
export class BidirectionalTransformer extends Module {
  readonly config: TransformerConfig;
  readonly embed: Embedding;
  readonly embedNorm: LayerNorm;
  readonly layers: TransformerLayer[];
  readonly headDense: Linear;
  readonly headNorm: LayerNorm;
  readonly headBias: Tensor;
  private readonly activation: Activation;

  constructor(weights: Weights, config: TransformerConfig) {
    super('transformer');
    this.config = config;
    const H = config.hiddenSize;
    this.embed = new Embedding(weights, this.name('embed'), config.vocabSize, config.maxPositions, H);
    this.embedNorm = new LayerNorm(weights, this.name('embed.ln'), H, config.layerNormEps);
    this.layers = Array.from({ length: config.numLayers }, (_, i) => new TransformerLayer(weights, this.name(`layers.${i}`), config));
    this.headDense = new Linear(weights, this.name('head.dense'), H, H);
    this.headNorm = new LayerNorm(weights, this.name('head.ln'), H, config.layerNormEps);
    this.headBias = getWeight(weights, this.name('head.bias'), [config.vocabSize]);
    this.activation = geluActivation(config.gelu);
  }

  params(): ParamSpec[] {
    return [
      ...this.embed.params(),
      ...this.embedNorm.params(),
      ...this.layers.flatMap((layer) => layer.params()),
      ...this.headDense.params(),
      ...this.headNorm.params(),
      { name: this.name('head.bias'), shape: [this.config.vocabSize] },
    ];
  }

  /**
   * tokens i32 [B, L] (L <= maxPositions) -> logits [B, L, vocab] (or [B, L, logitsColumns]),
   * recorded on the GPU without readback. Each layer runs in its own scope and the previous
   * activation is freed as soon as the next exists, so memory stays at about two layers'
   * activations and repeated calls reuse the same pooled buffers.
   */
  forward(tokens: Tensor, options: TransformerForwardOptions = {}): Tensor {
    const engine = tokens.engine;
    const { vocabSize, maxPositions } = this.config;
    if (tokens.dtype !== 'i32' || tokens.rank !== 2) {
      throw new ShapeError(`transformer: tokens must be i32 [batch, length], got ${tokens.dtype} [${tokens.shape.join(', ')}]`);
    }
    if (tokens.shape[1]! > maxPositions) {
      throw new ShapeError(`transformer: ${tokens.shape[1]} tokens per sequence exceed the ${maxPositions} learned positions`);
    }
    const columns = options.logitsColumns ?? vocabSize;
    if (!Number.isInteger(columns) || columns < 1 || columns > vocabSize) {
      throw new ShapeError(`transformer: logitsColumns must be an integer in [1, ${vocabSize}], got ${columns}`);
    }
    const hidden = this.hiddenStates(tokens);
    const logits = engine.tidy(() => this.logits(hidden, columns));
    hidden.dispose();
    return logits;
  }

  /**
   * tokens i32 [B, L] -> the last layer's output [B, L, H]: the embedding, then `layers`
   * (default: this model's; the autoregressive baseline passes causal layers over the same
   * weights). Each layer runs in its own scope; only the result is left allocated.
   */
  hiddenStates(tokens: Tensor, layers: readonly TransformerLayer[] = this.layers): Tensor {
    const engine = tokens.engine;
    let x = engine.tidy(() => this.embedNorm.forward(this.embed.forward(tokens)));
    for (const layer of layers) {
      const input = x;
      x = engine.tidy(() => layer.forward(input));
      input.dispose();
    }
    return x;
  }

  /** The head: hidden [B, L, H] -> logits [B, L, columns] of the first `columns` vocabulary entries. Intermediates are the caller's to scope. */
  logits(hidden: Tensor, columns: number): Tensor {
    const h = this.headNorm.forward(this.headDense.forward(hidden, { activation: this.activation }));
    return matmul(h, this.embed.word.firstRows(columns), { transposeB: true, bias: this.headBias.firstRows(columns) });
  }
}
