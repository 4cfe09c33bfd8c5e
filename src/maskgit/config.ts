import { ArgumentError } from '../errors.js';

/** The bidirectional transformer (BERT-style, post-LayerNorm) as in the official MaskGIT. */
export interface TransformerConfig {
  /** codebook + classes + 1 (the mask token is the last id). Official: 2025. */
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** Width of the MLP's hidden layer. Official: 3072. */
  mlpSize: number;
  /** Learned position embeddings: 1 class token + the image tokens. Official: 257. */
  maxPositions: number;
  /** Official: 1e-12. */
  layerNormEps: number;
  /** Official weights use the tanh approximation (JAX's default); PyTorch ports use erf. */
  gelu: 'tanh' | 'erf';
}

/** The VQGAN tokenizer (official: no attention blocks, NHWC, pixels in [0, 1]). */
export interface TokenizerConfig {
  /** Base width. Official: 128. */
  filters: number;
  /** Width multiplier per level; the image is downsampled 2^(levels-1) times. Official: [1, 1, 2, 2, 4]. */
  channelMultipliers: number[];
  /** Residual blocks per level. Official: 2. */
  numResBlocks: number;
  /** Latent (codebook vector) width. Official: 256. */
  embeddingDim: number;
  /** Codebook rows. Official: 1024. */
  codebookSize: number;
  /** GroupNorm groups. Official: 32. */
  groupNormGroups: number;
  /** GroupNorm epsilon. Official: 1e-6. */
  groupNormEps: number;
}

/** A complete model folder's config.json. */
export interface MaskGITConfig {
  format: 'maskgit-model';
  version: 1;
  /** Pixels per side of a generated image. */
  imageSize: number;
  /** Image token ids are 0..codebookSize-1. */
  codebookSize: number;
  /** Class token id = class + codebookSize. */
  numClasses: number;
  /** Id fed for a masked token: vocabSize - 1. */
  maskTokenId: number;
  /** Class id (0..numClasses-1) trained as "no class" for classifier-free guidance, or null. */
  nullClassId: number | null;
  /** Human-readable class names, when known (index = class id). */
  classNames?: string[];
  /** Storage dtype of the weights in model.safetensors. */
  dtype: 'f32' | 'f16';
  transformer: TransformerConfig;
  tokenizer: TokenizerConfig;
}

/** Latent grid side: imageSize / 2^(levels - 1). */
export function latentSize(config: Pick<MaskGITConfig, 'imageSize' | 'tokenizer'>): number {
  return config.imageSize / 2 ** (config.tokenizer.channelMultipliers.length - 1);
}

/** Image tokens per image (latent side squared). */
export function imageTokenCount(config: Pick<MaskGITConfig, 'imageSize' | 'tokenizer'>): number {
  return latentSize(config) ** 2;
}

export const OFFICIAL_TRANSFORMER: TransformerConfig = {
  vocabSize: 2025,
  hiddenSize: 768,
  numLayers: 24,
  numHeads: 16,
  mlpSize: 3072,
  maxPositions: 257,
  layerNormEps: 1e-12,
  gelu: 'tanh',
};

export const OFFICIAL_TOKENIZER: TokenizerConfig = {
  filters: 128,
  channelMultipliers: [1, 1, 2, 2, 4],
  numResBlocks: 2,
  embeddingDim: 256,
  codebookSize: 1024,
  groupNormGroups: 32,
  groupNormEps: 1e-6,
};

/** The official ImageNet 256 px class-conditional model. */
export function officialConfig(imageSize: 256 | 512 = 256): MaskGITConfig {
  const tokens = (imageSize / 16) ** 2;
  return {
    format: 'maskgit-model',
    version: 1,
    imageSize,
    codebookSize: 1024,
    numClasses: 1000,
    maskTokenId: 2024,
    nullClassId: null,
    dtype: 'f32',
    transformer: { ...OFFICIAL_TRANSFORMER, maxPositions: tokens + 1 },
    tokenizer: { ...OFFICIAL_TOKENIZER, channelMultipliers: [...OFFICIAL_TOKENIZER.channelMultipliers] },
  };
}

/** Checks the relations between the fields; throws ArgumentError naming the field. */
export function validateConfig(config: MaskGITConfig): void {
  const t = config.transformer;
  const k = config.tokenizer;
  const positive = (name: string, v: unknown) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ArgumentError(name, `must be a positive integer, got ${String(v)}`);
  };
  for (const [name, v] of Object.entries({ imageSize: config.imageSize, codebookSize: config.codebookSize, numClasses: config.numClasses })) positive(name, v);
  for (const [name, v] of Object.entries(t)) if (name !== 'gelu' && name !== 'layerNormEps') positive(`transformer.${name}`, v);
  for (const [name, v] of Object.entries(k)) if (name !== 'channelMultipliers' && name !== 'groupNormEps') positive(`tokenizer.${name}`, v);
  if (t.hiddenSize % t.numHeads !== 0) throw new ArgumentError('transformer.numHeads', `${t.numHeads} does not divide hiddenSize ${t.hiddenSize}`);
  if (t.gelu !== 'tanh' && t.gelu !== 'erf') throw new ArgumentError('transformer.gelu', `must be "tanh" or "erf", got ${String(t.gelu)}`);
  if (!(t.layerNormEps > 0)) throw new ArgumentError('transformer.layerNormEps', 'must be > 0');
  if (!(k.groupNormEps > 0)) throw new ArgumentError('tokenizer.groupNormEps', 'must be > 0');
  if (!Array.isArray(k.channelMultipliers) || k.channelMultipliers.length < 1 || !k.channelMultipliers.every((m) => Number.isInteger(m) && m >= 1)) {
    throw new ArgumentError('tokenizer.channelMultipliers', 'must be a non-empty list of positive integers');
  }
  for (const m of k.channelMultipliers) {
    if ((k.filters * m) % k.groupNormGroups !== 0) {
      throw new ArgumentError('tokenizer.groupNormGroups', `${k.groupNormGroups} groups do not divide ${k.filters * m} channels`);
    }
  }
  if (k.codebookSize !== config.codebookSize) throw new ArgumentError('tokenizer.codebookSize', `${k.codebookSize} differs from codebookSize ${config.codebookSize}`);
  if (t.vocabSize !== config.codebookSize + config.numClasses + 1) {
    throw new ArgumentError('transformer.vocabSize', `${t.vocabSize} must be codebookSize + numClasses + 1 = ${config.codebookSize + config.numClasses + 1}`);
  }
  if (config.maskTokenId !== t.vocabSize - 1) throw new ArgumentError('maskTokenId', `must be vocabSize - 1 = ${t.vocabSize - 1}`);
  const down = 2 ** (k.channelMultipliers.length - 1);
  if (config.imageSize % down !== 0) throw new ArgumentError('imageSize', `${config.imageSize} is not a multiple of the downsampling factor ${down}`);
  if (t.maxPositions < imageTokenCount(config) + 1) {
    throw new ArgumentError('transformer.maxPositions', `${t.maxPositions} < 1 class token + ${imageTokenCount(config)} image tokens`);
  }
  if (config.nullClassId !== null && (!Number.isInteger(config.nullClassId) || config.nullClassId < 0 || config.nullClassId >= config.numClasses)) {
    throw new ArgumentError('nullClassId', `must be null or a class id in [0, ${config.numClasses})`);
  }
  if (config.dtype !== 'f32' && config.dtype !== 'f16') throw new ArgumentError('dtype', `must be "f32" or "f16", got ${String(config.dtype)}`);
}
