import { loadModelWeights, type LoadWeightsOptions, type ModelFolderConfig } from '../io/model.js';
import type { Engine } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';

export type LoadMaskGITOptions = Omit<LoadWeightsOptions, 'parts'>;

/** A loaded model: its config and its parameters on the GPU, by engine name. */
export interface LoadedMaskGIT {
  config: ModelFolderConfig;
  /** Every transformer and tokenizer parameter, kept (no scope disposes them). */
  weights: Map<string, Tensor>;
  /** What float weights are stored as on the GPU. */
  dtype: 'f32' | 'f16';
  /** Frees every parameter. */
  dispose(): void;
}

/**
 * Loads a complete model folder (a path in Node, a URL anywhere; see io/model.ts for the
 * format) onto the GPU, with transformers.js-style progress events. The folder must hold both
 * the transformer and the tokenizer (CheckpointError saying which is missing otherwise).
 *
 * The transformer and tokenizer modules are built from `config.transformer` /
 * `config.tokenizer` and `weights` (they read the names in maskgit/weights.ts); wiring them in
 * here, as `transformer` and `tokenizer` fields of the result, is the step that follows.
 */
export async function loadMaskGIT(engine: Engine, dirOrUrl: string | URL, options: LoadMaskGITOptions = {}): Promise<LoadedMaskGIT> {
  const { config, weights, dtype } = await loadModelWeights(engine, dirOrUrl, { ...options, parts: ['transformer', 'tokenizer'] });
  return {
    config,
    weights,
    dtype,
    dispose() {
      for (const t of weights.values()) t.dispose();
      weights.clear();
    },
  };
}
