import type { DType } from '../tensor/dtype.js';
import type { Engine } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ParamSpec } from './weights.js';

/** A deterministic stream of floats in [0, 1) (mulberry32), for reproducible weights. */
export function seededUniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Host values for one parameter, initialised as models usually are: norms' `scale` 1 and
 * every `bias` 0; embeddings and codebooks N(0, 0.02) (BERT); kernels uniform in
 * ±sqrt(3 / fan_in) (variance 1 / fan_in). Returns them instead of uploading, for oracles.
 */
export function initialValues(spec: ParamSpec, random: () => number): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const leaf = spec.name.slice(spec.name.lastIndexOf('.') + 1);
  if (leaf === 'scale') return out.fill(1);
  if (leaf === 'bias') return out;
  if (spec.shape.length === 2 && leaf !== 'weight') {
    // Embedding tables and the codebook: normal(0, 0.02) by Box-Muller.
    for (let i = 0; i < n; i++) {
      const u = Math.max(random(), 1e-12);
      out[i] = 0.02 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
    }
    return out;
  }
  const fanIn = spec.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const limit = Math.sqrt(3 / fanIn);
  for (let i = 0; i < n; i++) out[i] = (2 * random() - 1) * limit;
  return out;
}

/** Randomly initialised weights for `specs` on the GPU (deterministic for a seed). */
export function randomWeights(engine: Engine, specs: readonly ParamSpec[], options: { seed?: number; dtype?: DType } = {}): Map<string, Tensor> {
  const random = seededUniform(options.seed ?? 0);
  const weights = new Map<string, Tensor>();
  for (const spec of specs) {
    weights.set(spec.name, engine.keep(engine.tensor(initialValues(spec, random), spec.shape, options.dtype ?? 'f32')));
  }
  return weights;
}
