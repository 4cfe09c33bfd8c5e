import { ArgumentError, ShapeError } from '../../errors.js';
import { parameter, type Variable } from '../../tensor/autograd.js';
import type { Engine } from '../../tensor/engine.js';
import * as grad from '../../tensor/grad/index.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { TransformerConfig } from '../config.js';
import { seededUniform } from '../init.js';
import { checkWeights, transformerParams, type ParamSpec, type Weights } from '../weights.js';

/** Dropout of a training forward: one Philox mask per (seed, site, step). */
export interface TrainDropout {
  /** Probability of zeroing a hidden activation (official: 0.1). 0 turns dropout off. */
  rate: number;
  seed: number;
  step: number;
}

export interface TrainForwardOptions {
  /** Off when absent (evaluation). */
  dropout?: TrainDropout;
  /** Logits for the first `logitsColumns` vocabulary entries only (the codebook); default all. */
  logitsColumns?: number;
}

/**
 * The MaskGIT bidirectional transformer built from differentiable ops, over the same parameter
 * names and layouts as the inference BidirectionalTransformer (src/maskgit/transformer.ts), so a
 * trained checkpoint loads into it unchanged:
 *   x = dropout(LN(word[tokens] + position))
 *   N x { x = LN(x + dropout(out(attn(qkv(x))))); x = LN(x + dropout(fc2(GELU(fc1(x))))) }
 *   logits = LN(GELU(dense(x))) @ word^T + head.bias     (tied: one table, two gradients)
 * Dropout sits where BERT (and the official model) puts hidden dropout: after the embedding
 * LayerNorm and on each sublayer's output before its residual add. The official model also
 * drops attention probabilities; the fused attention here does not (see the training notes).
 */
export class TrainableTransformer {
  readonly config: TransformerConfig;
  /** The trainable parameters by engine name (transformerParams order). */
  readonly params: ReadonlyMap<string, Variable>;

  constructor(weights: Weights, config: TransformerConfig) {
    checkWeights(weights, transformerParams(config));
    for (const [name, t] of weights) {
      if (t.dtype !== 'f32') throw new ArgumentError('weights', `${name} is ${t.dtype}; train in f32 (export to f16 afterwards)`);
    }
    this.config = config;
    this.params = new Map(transformerParams(config).map((s) => [s.name, parameter(weights.get(s.name)!)]));
  }

  /** The parameters' current values by name (the tensors the optimizer updates in place). */
  weights(): Map<string, Tensor> {
    return new Map([...this.params].map(([name, v]) => [name, v.value]));
  }

  private p(name: string): Variable {
    return this.params.get(`transformer.${name}`)!;
  }

  /** tokens i32 [B, L] -> logits [B, L, columns] as a Variable whose graph reaches every parameter. */
  forward(tokens: Tensor, options: TrainForwardOptions = {}): Variable {
    const { vocabSize, maxPositions, numLayers, numHeads, layerNormEps: eps, gelu } = this.config;
    if (tokens.dtype !== 'i32' || tokens.rank !== 2) {
      throw new ShapeError(`transformer: tokens must be i32 [batch, length], got ${tokens.dtype} [${tokens.shape.join(', ')}]`);
    }
    if (tokens.shape[1]! > maxPositions) throw new ShapeError(`transformer: ${tokens.shape[1]} tokens exceed the ${maxPositions} learned positions`);
    const columns = options.logitsColumns ?? vocabSize;
    if (!Number.isInteger(columns) || columns < 1 || columns > vocabSize) {
      throw new ShapeError(`transformer: logitsColumns must be an integer in [1, ${vocabSize}], got ${columns}`);
    }
    const drop = options.dropout;
    const dropout = (x: Variable, site: number) => (drop && drop.rate > 0 ? grad.dropout(x, { rate: drop.rate, seed: drop.seed, step: drop.step, site }) : x);
    const ln = (x: Variable, name: string) => grad.layerNorm(x, this.p(`${name}.scale`), this.p(`${name}.bias`), { eps });
    const dense = (x: Variable, name: string) => grad.linear(x, this.p(`${name}.weight`), this.p(`${name}.bias`));

    let x = dropout(ln(grad.embedding(tokens, this.p('embed.word'), this.p('embed.position')), 'embed.ln'), 0);
    for (let i = 0; i < numLayers; i++) {
      const at = `layers.${i}`;
      const heads = grad.attention(dense(x, `${at}.attn.qkv`), { heads: numHeads });
      const h = ln(grad.add(x, dropout(dense(heads, `${at}.attn.out`), 1 + 2 * i)), `${at}.attn.ln`);
      const m = grad.gelu(dense(h, `${at}.mlp.fc1`), gelu);
      x = ln(grad.add(h, dropout(dense(m, `${at}.mlp.fc2`), 2 + 2 * i)), `${at}.mlp.ln`);
    }
    const head = ln(grad.gelu(dense(x, 'head.dense'), gelu), 'head.ln');
    const word = grad.firstRows(this.p('embed.word'), columns);
    return grad.matmul(head, word, { transposeB: true, bias: grad.firstRows(this.p('head.bias'), columns) });
  }
}

/**
 * Initial training values, as the official model initialises (BERT): every kernel and embedding
 * from a normal(0, 0.02) truncated at two standard deviations, biases 0, LayerNorm scales 1.
 */
export function trainingInitialValues(spec: ParamSpec, random: () => number): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const leaf = spec.name.slice(spec.name.lastIndexOf('.') + 1);
  if (leaf === 'scale') return out.fill(1);
  if (leaf === 'bias') return out;
  for (let i = 0; i < n; i++) {
    let z: number;
    do {
      const u = Math.max(random(), 1e-12);
      z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
    } while (Math.abs(z) > 2);
    out[i] = 0.02 * z;
  }
  return out;
}

/** Freshly initialised f32 transformer weights for training (deterministic for a seed), kept. */
export function initTrainingWeights(engine: Engine, config: TransformerConfig, seed = 0): Map<string, Tensor> {
  const random = seededUniform(seed);
  return new Map(transformerParams(config).map((s) => [s.name, engine.keep(engine.tensor(trainingInitialValues(s, random), s.shape))]));
}
