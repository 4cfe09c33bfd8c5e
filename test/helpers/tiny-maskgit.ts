// A complete MaskGIT small enough for tests: a real BidirectionalTransformer and VQGANTokenizer
// with random weights (initialValues, as randomWeights makes them), built in memory or
// written as a model folder for the CLI.
import {
  createMaskGIT,
  initialValues,
  modelParamSpecs,
  seededUniform,
  type Engine,
  type MaskGITModel,
  type ModelFolderConfig,
  type Tensor,
  type TensorBytes,
} from '../../src/node.js';

export interface TinySizes {
  /** Pixels per side. Default 32. */
  imageSize?: number;
  /** Tokenizer levels' multipliers (downsampling 2^(levels - 1)). Default [1, 1, 1]: f = 4, 8x8 tokens at 32 px. */
  multipliers?: number[];
  codebook?: number;
  classes?: number;
  hidden?: number;
  layers?: number;
  heads?: number;
  nullClass?: number | null;
}

export function tinyConfig(s: TinySizes = {}): ModelFolderConfig {
  const imageSize = s.imageSize ?? 32;
  const multipliers = s.multipliers ?? [1, 1, 1];
  const codebook = s.codebook ?? 32;
  const classes = s.classes ?? 10;
  const hidden = s.hidden ?? 32;
  const side = imageSize / 2 ** (multipliers.length - 1);
  return {
    format: 'maskgit-model',
    version: 1,
    imageSize,
    codebookSize: codebook,
    numClasses: classes,
    maskTokenId: codebook + classes,
    nullClassId: s.nullClass ?? null,
    dtype: 'f32',
    transformer: {
      vocabSize: codebook + classes + 1,
      hiddenSize: hidden,
      numLayers: s.layers ?? 2,
      numHeads: s.heads ?? 4,
      mlpSize: 2 * hidden,
      maxPositions: side * side + 1,
      layerNormEps: 1e-12,
      gelu: 'tanh',
    },
    tokenizer: { filters: 8, channelMultipliers: multipliers, numResBlocks: 1, embeddingDim: 8, codebookSize: codebook, groupNormGroups: 4, groupNormEps: 1e-6 },
  };
}

/**
 * Host values of every parameter. Embeddings and the codebook get a larger spread than
 * initialValues' N(0, 0.02), and biases small random values, so that logits are not nearly
 * uniform and encoded images use many codes (a test of "tokens kept" then means something).
 */
export function tinyValues(config: ModelFolderConfig, seed = 1): Map<string, { shape: readonly number[]; values: Float32Array }> {
  const random = seededUniform(seed);
  const out = new Map<string, { shape: readonly number[]; values: Float32Array }>();
  for (const spec of modelParamSpecs(config)) {
    const values = initialValues(spec, random);
    const leaf = spec.name.slice(spec.name.lastIndexOf('.') + 1);
    if (leaf === 'word' || leaf === 'position' || leaf === 'codebook') values.forEach((v, i) => (values[i] = v * 25));
    if (leaf === 'bias') values.forEach((_, i) => (values[i] = 0.2 * (random() - 0.5)));
    out.set(spec.name, { shape: spec.shape, values });
  }
  return out;
}

export interface TinyModel extends MaskGITModel {
  weights: Map<string, Tensor>;
  dispose(): void;
}

export function tinyModel(engine: Engine, config: ModelFolderConfig = tinyConfig(), seed = 1): TinyModel {
  const weights = new Map<string, Tensor>();
  for (const [name, { shape, values }] of tinyValues(config, seed)) weights.set(name, engine.keep(engine.tensor(values, shape)));
  const model = createMaskGIT(config, weights);
  return {
    ...model,
    weights,
    dispose() {
      for (const t of weights.values()) t.dispose();
    },
  };
}

/** The same parameters as safetensors entries, for writeModelFolder. */
export function tinyTensors(config: ModelFolderConfig, seed = 1): TensorBytes[] {
  return [...tinyValues(config, seed)].map(([name, { shape, values }]) => ({ name, dtype: 'F32', shape: [...shape], data: new Uint8Array(values.buffer) }));
}
