// Model folders of a few MB whose every byte depends on a version number, so a test can tell
// exactly which version a folder on disk holds (crash-mid-write tests).
import { encodeSafetensors, modelParamSpecs, type ModelFolderConfig, type TensorBytes } from '../../src/node.js';

/** A complete model small enough for many loads: every part a few values wide. */
export const TINY_MODEL_CONFIG: ModelFolderConfig = {
  format: 'maskgit-model',
  version: 1,
  imageSize: 8,
  codebookSize: 16,
  numClasses: 3,
  maskTokenId: 19,
  nullClassId: 2,
  classNames: ['a', 'b', 'none'],
  dtype: 'f32',
  transformer: { vocabSize: 20, hiddenSize: 8, numLayers: 1, numHeads: 2, mlpSize: 16, maxPositions: 17, layerNormEps: 1e-12, gelu: 'tanh' },
  tokenizer: { filters: 4, channelMultipliers: [1, 2], numResBlocks: 1, embeddingDim: 4, codebookSize: 16, groupNormGroups: 1, groupNormEps: 1e-6 },
};

/** The tiny model with a wider, deeper transformer: ~0.9M parameters, 3.6 MB of weights. */
export const VERSIONED_CONFIG: ModelFolderConfig = {
  ...TINY_MODEL_CONFIG,
  transformer: { ...TINY_MODEL_CONFIG.transformer, hiddenSize: 96, numLayers: 8, numHeads: 4, mlpSize: 384 },
};

/** The config of a version: its number is recorded as the class names (so config.json differs per version too). */
export function versionConfig(version: number): ModelFolderConfig {
  return { ...VERSIONED_CONFIG, classNames: [`v${version}`, 'b', 'c'] };
}

/** Every parameter of a version: values from an integer hash of (version, tensor, index). */
export function versionTensors(version: number): TensorBytes[] {
  return modelParamSpecs(VERSIONED_CONFIG).map((spec, k) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = ((Math.imul(i + 1, 2654435761) ^ Math.imul(version + 7, 40503) ^ (k << 20)) >>> 8) / 2 ** 24 - 0.5;
    return { name: spec.name, dtype: 'F32', shape: spec.shape, data: new Uint8Array(values.buffer) };
  });
}

/** The bytes model.safetensors of a version must hold (as writeModelFolder writes them). */
export function versionWeightsFile(version: number): Uint8Array {
  return encodeSafetensors(versionTensors(version), { format: 'maskgit' });
}
