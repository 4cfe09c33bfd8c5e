// Differentiable versions of the transformer's ops, each with its backward kernel.
import { ShapeError } from '../../errors.js';
import { record, type Variable } from '../autograd.js';
import * as ops from '../ops/index.js';
import type { Activation, DropoutOptions } from '../ops/index.js';
import type { Tensor } from '../tensor.js';

/** GELU ('tanh' as the official model, or 'erf'); backward: g * gelu'(x) in one kernel. */
export function gelu(x: Variable, form: 'tanh' | 'erf' = 'tanh'): Variable {
  const act: Activation = form === 'erf' ? 'gelu_erf' : 'gelu_tanh';
  return record('gelu', ops.activation(x.value, act), [x], (g) => [ops.activationGrad(x.value as Tensor, g, act)]);
}

/** Leaky ReLU, slope 0.2 below zero (discriminators); backward: g * (x > 0 ? 1 : 0.2). */
export function leakyRelu(x: Variable): Variable {
  return record('leaky_relu', ops.activation(x.value, 'leaky_relu'), [x], (g) => [ops.activationGrad(x.value as Tensor, g, 'leaky_relu')]);
}

/** LayerNorm over the last axis; backward: one row per workgroup (dx), column sums for scale and bias. */
export function layerNorm(x: Variable, scale: Variable, bias: Variable, options: { eps?: number } = {}): Variable {
  const eps = options.eps ?? 1e-5;
  return record('layer_norm', ops.layerNorm(x.value, scale.value, bias.value, { eps }), [x, scale, bias], (g) => {
    const { dx, dscale, dbias } = ops.layerNormBackward(x.value as Tensor, scale.value as Tensor, g, { eps });
    return [dx, dscale, dbias];
  });
}

/**
 * Token plus position embedding (ops.embedding) for tokens i32 [B, L]; backward: the word
 * table's gradient is a deterministic scatter-add over the token ids (ops.embeddingWordGrad),
 * the position table's the sum over the batch (rows past L get 0).
 */
export function embedding(tokens: Tensor, word: Variable, position: Variable): Variable {
  const value = ops.embedding(tokens, word.value, position.value);
  return record('embedding', value, [word, position], (g) => {
    const [vocab] = word.shape as [number];
    const [positions, hidden] = position.shape as [number, number];
    const length = tokens.shape[1]!;
    const dword = word.requiresGrad ? ops.embeddingWordGrad(tokens, g, vocab) : null;
    let dpos: Tensor | null = null;
    if (position.requiresGrad) {
      const used = ops.sumTo(g, [length, hidden]);
      if (length === positions) dpos = used;
      else {
        dpos = g.engine.zeros([positions, hidden]);
        g.engine.copy(used, 0, dpos, 0, used.byteLength);
      }
    }
    return [dword, dpos];
  });
}

/** The first `rows` rows of a table (a view, no copy); backward: the gradient padded with zero rows. */
export function firstRows(x: Variable, rows: number): Variable {
  return record('first_rows', x.value.firstRows(rows), [x], (g) => {
    if (rows === x.shape[0]) return [g.reshape(x.shape)];
    const full = g.engine.zeros(x.shape);
    g.engine.copy(g, 0, full, 0, g.byteLength);
    return [full];
  });
}

/**
 * Bidirectional multi-head self-attention over a fused QKV projection [B, L, 3H] -> [B, L, H]
 * (ops.attention). The forward also keeps each query's log-sum-exp; the backward recomputes the
 * probabilities from it (flash-style, ops.attentionBackward): no L x L matrix is stored.
 */
export function attention(qkv: Variable, options: { heads: number }): Variable {
  const { out, lse } = ops.attentionWithLSE(qkv.value, { heads: options.heads });
  return record('attention', out, [qkv], (g) => [ops.attentionBackward(qkv.value as Tensor, out, g, lse, { heads: options.heads })], [lse]);
}

/**
 * Dropout with a Philox mask from (seed, site, step) (ops.dropout); the backward applies the same
 * mask to the gradient. rate 0 is the identity (no node).
 */
export function dropout(x: Variable, options: DropoutOptions): Variable {
  if (options.rate === 0) return x;
  if (x.value.dtype !== 'f32') throw new ShapeError(`dropout: x is ${x.value.dtype}; train in f32`);
  return record('dropout', ops.dropout(x.value, options), [x], (g) => [ops.dropout(g, options)]);
}
