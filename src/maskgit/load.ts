import { describeValue, optionsObject } from '../arguments.js';
import { ArgumentError } from '../errors.js';
import { loadModelWeights, type LoadWeightsOptions, type ModelFolderConfig, type ModelLocation } from '../io/model.js';
import type { Engine } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { validateConfig, type MaskGITConfig } from './config.js';
import { VQGANTokenizer } from './tokenizer.js';
import { BidirectionalTransformer } from './transformer.js';
import { checkWeights, tokenizerParams, transformerParams } from './weights.js';

export type LoadMaskGITOptions = Omit<LoadWeightsOptions, 'parts'>;

/** A MaskGIT ready to run: the transformer and the tokenizer built over one weight map. */
export interface MaskGITModel {
  config: MaskGITConfig;
  transformer: BidirectionalTransformer;
  tokenizer: VQGANTokenizer;
  /** The engine (GPU device) the weights live on. */
  engine: Engine;
}

/** A loaded model: its config, ready modules and its parameters on the GPU, by engine name. */
export interface LoadedMaskGIT extends MaskGITModel {
  config: ModelFolderConfig;
  /** Every transformer and tokenizer parameter, kept (no scope disposes them). */
  weights: Map<string, Tensor>;
  /** What float weights are stored as on the GPU. */
  dtype: 'f32' | 'f16';
  /** Frees every parameter (the modules are unusable afterwards). */
  dispose(): void;
}

/**
 * Builds the modules of a complete model from a weight map holding every transformer and
 * tokenizer parameter under its engine name (src/maskgit/weights.ts): loaded weights,
 * randomWeights(engine, modelParamSpecs(config)), or trained ones. Throws ArgumentError for
 * an invalid config and CheckpointError naming a missing or misshapen parameter.
 */
export function createMaskGIT(config: MaskGITConfig, weights: ReadonlyMap<string, Tensor>): MaskGITModel {
  validateConfig(config);
  if (!(weights instanceof Map)) {
    throw new ArgumentError('weights', `must be a Map of parameter name to tensor (loadModelWeights, randomWeights or a trainer's), got ${describeValue(weights)}`);
  }
  checkWeights(weights, [...transformerParams(config.transformer), ...tokenizerParams(config.tokenizer)]);
  const transformer = new BidirectionalTransformer(weights, config.transformer);
  const tokenizer = VQGANTokenizer.fromWeights(weights, config.tokenizer);
  return { config, transformer, tokenizer, engine: tokenizer.engine };
}

/**
 * Loads a complete model folder (a path in Node, a URL anywhere, or a ModelFileSource such as
 * a browser's stored copy; see io/model.ts for the format) onto the GPU, with transformers.js-style progress events, and builds its modules
 * (`transformer`, `tokenizer`). The folder must hold both parts (CheckpointError saying which
 * is missing otherwise).
 */
export async function loadMaskGIT(engine: Engine, dirOrUrl: ModelLocation, options: LoadMaskGITOptions = {}): Promise<LoadedMaskGIT> {
  // Checked here: spreading a non-object into the loader's options would silently drop it.
  options = optionsObject('options', options);
  const { config, weights, dtype } = await loadModelWeights(engine, dirOrUrl, { ...options, parts: ['transformer', 'tokenizer'] });
  let modules: MaskGITModel;
  try {
    modules = createMaskGIT(config, weights);
  } catch (error) {
    for (const t of weights.values()) t.dispose();
    throw error;
  }
  return {
    ...modules,
    config,
    weights,
    dtype,
    dispose() {
      for (const t of weights.values()) t.dispose();
      weights.clear();
    },
  };
}
