// FLOP counts (2 x multiply-adds; norms, GELU and the sampler left out) of MaskGIT's parallel
// decode and of the autoregressive baseline over the same transformer, for benchmarks that
// compare measured time ratios with the ratio of the work.
import type { TransformerConfig } from './config.js';

/**
 * One forward over `rows` new positions: the layers' GEMMs, attention of the new positions
 * over `keys` keys in all (summed over the new positions), and the head (dense + tied output)
 * on `headRows` positions to `columns` logits.
 */
export function transformerForwardFlop(c: TransformerConfig, rows: number, keys: number, headRows: number, columns: number): number {
  const H = c.hiddenSize;
  const layer = 2 * rows * H * (4 * H + 2 * c.mlpSize) + 4 * keys * H;
  return c.numLayers * layer + 2 * headRows * H * (H + columns);
}

export interface DecodeFlops {
  /** MaskGIT, `steps` bidirectional forwards over all tokens + 1 positions, codebook logits everywhere. */
  maskgit: number;
  /** Autoregressive without a cache: step t runs the causal forward over the t + 1 tokens so far, head on the last. */
  autoregressive: number;
  /** With a KV cache: step t computes one token and attends over t + 1 cached keys. */
  autoregressiveCached: number;
}

/** The FLOPs of generating one image of `tokens` image tokens (class token first) from a `columns`-entry codebook. */
export function decodeFlops(c: TransformerConfig, tokens: number, steps: number, columns: number): DecodeFlops {
  const L = tokens + 1;
  let autoregressive = 0;
  let autoregressiveCached = 0;
  for (let t = 0; t < tokens; t++) {
    autoregressive += transformerForwardFlop(c, t + 1, ((t + 1) * (t + 2)) / 2, 1, columns);
    autoregressiveCached += transformerForwardFlop(c, 1, t + 1, 1, columns);
  }
  return { maskgit: steps * transformerForwardFlop(c, L, L * L, L, columns), autoregressive, autoregressiveCached };
}

/** FLOPs of the first `count` cached autoregressive steps (for scaling a partial timing). */
export function cachedStepsFlop(c: TransformerConfig, count: number, columns: number): number {
  let total = 0;
  for (let t = 0; t < count; t++) total += transformerForwardFlop(c, 1, t + 1, 1, columns);
  return total;
}
