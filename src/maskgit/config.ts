import { describeValue, isPlainObject } from '../arguments.js';
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

/**
 * Upper bounds on the counts that size loops over parameters (layers, blocks, levels): far
 * above any MaskGIT, low enough that a damaged or hostile config.json cannot make a loader
 * enumerate billions of parameter names before it reads a byte of weights.
 */
export const CONFIG_LIMITS = {
  numLayers: 1024,
  numResBlocks: 64,
  levels: 16,
} as const;

const TRANSFORMER_SIZES = ['vocabSize', 'hiddenSize', 'numLayers', 'numHeads', 'mlpSize', 'maxPositions'] as const;
const TOKENIZER_SIZES = ['filters', 'numResBlocks', 'embeddingDim', 'codebookSize', 'groupNormGroups'] as const;

function positiveInteger(name: string, v: unknown, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new ArgumentError(name, `must be a positive integer, got ${describeValue(v)}`);
  if (v > max) throw new ArgumentError(name, `${v} is more than the ${max} this library supports`);
}

function positiveNumber(name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) throw new ArgumentError(name, `must be a finite number > 0, got ${describeValue(v)}`);
}

/**
 * Checks every field (present, of its type, within CONFIG_LIMITS) and the relations between
 * them; throws ArgumentError naming the field. `format` and `version` are config.json's and
 * are checked where it is parsed.
 */
export function validateConfig(config: MaskGITConfig): void {
  if (!isPlainObject(config)) throw new ArgumentError('config', `must be an object, got ${describeValue(config)}`);
  const t = config.transformer as unknown;
  const k = config.tokenizer as unknown;
  if (!isPlainObject(t)) throw new ArgumentError('transformer', `must be an object, got ${describeValue(t)}`);
  if (!isPlainObject(k)) throw new ArgumentError('tokenizer', `must be an object, got ${describeValue(k)}`);
  for (const [name, v] of Object.entries({ imageSize: config.imageSize, codebookSize: config.codebookSize, numClasses: config.numClasses })) positiveInteger(name, v);
  for (const name of TRANSFORMER_SIZES) positiveInteger(`transformer.${name}`, t[name], name === 'numLayers' ? CONFIG_LIMITS.numLayers : undefined);
  for (const name of TOKENIZER_SIZES) positiveInteger(`tokenizer.${name}`, k[name], name === 'numResBlocks' ? CONFIG_LIMITS.numResBlocks : undefined);
  const transformer = t as unknown as TransformerConfig;
  const tokenizer = k as unknown as TokenizerConfig;
  if (transformer.hiddenSize % transformer.numHeads !== 0) {
    throw new ArgumentError('transformer.numHeads', `${transformer.numHeads} does not divide hiddenSize ${transformer.hiddenSize}`);
  }
  if (transformer.gelu !== 'tanh' && transformer.gelu !== 'erf') throw new ArgumentError('transformer.gelu', `must be "tanh" or "erf", got ${describeValue(transformer.gelu)}`);
  positiveNumber('transformer.layerNormEps', transformer.layerNormEps);
  positiveNumber('tokenizer.groupNormEps', tokenizer.groupNormEps);
  const multipliers = tokenizer.channelMultipliers as unknown;
  if (
    !Array.isArray(multipliers) ||
    multipliers.length < 1 ||
    !multipliers.every((m) => typeof m === 'number' && Number.isSafeInteger(m) && m >= 1 && Number.isSafeInteger(m * tokenizer.filters))
  ) {
    throw new ArgumentError('tokenizer.channelMultipliers', 'must be a non-empty list of positive integers');
  }
  if (multipliers.length > CONFIG_LIMITS.levels) {
    throw new ArgumentError('tokenizer.channelMultipliers', `${multipliers.length} levels are more than the ${CONFIG_LIMITS.levels} this library supports`);
  }
  for (const m of tokenizer.channelMultipliers) {
    if ((tokenizer.filters * m) % tokenizer.groupNormGroups !== 0) {
      throw new ArgumentError('tokenizer.groupNormGroups', `${tokenizer.groupNormGroups} groups do not divide ${tokenizer.filters * m} channels`);
    }
  }
  if (tokenizer.codebookSize !== config.codebookSize) throw new ArgumentError('tokenizer.codebookSize', `${tokenizer.codebookSize} differs from codebookSize ${config.codebookSize}`);
  if (transformer.vocabSize !== config.codebookSize + config.numClasses + 1) {
    throw new ArgumentError('transformer.vocabSize', `${transformer.vocabSize} must be codebookSize + numClasses + 1 = ${config.codebookSize + config.numClasses + 1}`);
  }
  if (config.maskTokenId !== transformer.vocabSize - 1) throw new ArgumentError('maskTokenId', `must be vocabSize - 1 = ${transformer.vocabSize - 1}`);
  const down = 2 ** (multipliers.length - 1);
  if (config.imageSize % down !== 0) throw new ArgumentError('imageSize', `${config.imageSize} is not a multiple of the downsampling factor ${down}`);
  if (!Number.isSafeInteger(imageTokenCount(config))) throw new ArgumentError('imageSize', `${config.imageSize} px gives more image tokens than this library can count`);
  if (transformer.maxPositions < imageTokenCount(config) + 1) {
    throw new ArgumentError('transformer.maxPositions', `${transformer.maxPositions} < 1 class token + ${imageTokenCount(config)} image tokens`);
  }
  if (config.nullClassId !== null && (!Number.isInteger(config.nullClassId) || config.nullClassId < 0 || config.nullClassId >= config.numClasses)) {
    throw new ArgumentError('nullClassId', `must be null or a class id in [0, ${config.numClasses}), got ${describeValue(config.nullClassId)}`);
  }
  if (config.classNames !== undefined) {
    const names = config.classNames as unknown;
    if (!Array.isArray(names) || names.length !== config.numClasses || !names.every((n) => typeof n === 'string')) {
      throw new ArgumentError('classNames', `must be a list of ${config.numClasses} strings (one per class), or left out`);
    }
  }
  if (config.dtype !== 'f32' && config.dtype !== 'f16') throw new ArgumentError('dtype', `must be "f32" or "f16", got ${describeValue(config.dtype)}`);
}
