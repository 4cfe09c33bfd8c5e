import { describeValue, isPlainObject, optionsObject } from '../arguments.js';
import { ArgumentError, CheckpointError } from '../errors.js';
import {
  OFFICIAL_TOKENIZER,
  OFFICIAL_TRANSFORMER,
  validateConfig,
  type TokenizerConfig,
  type TransformerConfig,
} from '../maskgit/config.js';
import { tokenizerParams, transformerParams } from '../maskgit/weights.js';
import { bf16BytesToF32, f16BytesToF32, f32BytesToF16, f64BytesToF32 } from './dtype-bytes.js';
import { FlaxArray, flattenFlaxTree, readFlaxCheckpoint, type ByteSource, type FlaxTree, type FlaxValue } from './flax.js';
import type { ModelFolderConfig, ModelPart } from './model.js';
import type { TensorBytes } from './safetensors.js';

/**
 * Maps the official MaskGIT Flax checkpoints (transformer and VQGAN tokenizer) onto the
 * engine's parameter names and layouts (src/maskgit/weights.ts), inferring every size from the
 * trees. Layout changes: attention q/k/v kernels [H, heads, head_dim] are fused into one
 * [H, 3H] kernel (columns q | k | v, each head-major) and their [heads, head_dim] biases into
 * [3H]; the out kernel [heads, head_dim, H] is read as [H, H] (the same bytes). Every other
 * array keeps its layout (dense [in, out], conv HWIO).
 */

export type CheckpointKind = ModelPart;

const isTree = (v: FlaxValue | undefined): v is FlaxTree =>
  v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) && !(v instanceof FlaxArray) && !(v instanceof Uint8Array);

/** The parameter tree: the `params` entry of a {params: ...} checkpoint, or the tree itself. */
export function checkpointParams(tree: FlaxTree): FlaxTree {
  return isTree(tree.params) ? tree.params : tree;
}

const TRANSFORMER_MARK = /^(Embed_0|MlmLayer_0|TransformerLayer_\d+)$/;
const TOKENIZER_MARK = /^(encoder|decoder|quantizer)$/;

/** Which official model a checkpoint holds, from its top-level names. */
export function identifyCheckpoint(tree: FlaxTree, source = 'checkpoint'): CheckpointKind {
  const keys = Object.keys(checkpointParams(tree));
  const transformer = keys.some((k) => TRANSFORMER_MARK.test(k));
  const tokenizer = keys.some((k) => TOKENIZER_MARK.test(k));
  if (transformer && !tokenizer) return 'transformer';
  if (tokenizer && !transformer) return 'tokenizer';
  throw new CheckpointError(
    `${source} is ${transformer ? 'both' : 'neither'} a MaskGIT transformer (Embed_0, TransformerLayer_i, MlmLayer_0) ` +
      `${transformer ? 'and' : 'nor'} a VQGAN tokenizer (encoder, decoder, quantizer); its top-level names are ` +
      `${keys.slice(0, 10).join(', ') || '(none)'}${keys.length > 10 ? ', ...' : ''}`,
  );
}

export interface NamedCheckpoint {
  readonly tree: FlaxTree;
  /** File name or description, for messages. */
  readonly source: string;
}

function checkNamed(name: string, c: unknown): void {
  if (!isPlainObject(c) || !isPlainObject(c.tree) || c.tree instanceof FlaxArray || typeof c.source !== 'string') {
    throw new ArgumentError(name, `must be { tree: a decoded Flax checkpoint, source: a name }, got ${describeValue(c)}`);
  }
}

/** Assigns one or two checkpoints, in any order, to their roles. */
export function sortCheckpoints(checkpoints: readonly NamedCheckpoint[]): { transformer?: NamedCheckpoint; tokenizer?: NamedCheckpoint } {
  if (!Array.isArray(checkpoints)) throw new ArgumentError('checkpoints', `must be a list of { tree, source }, got ${describeValue(checkpoints)}`);
  checkpoints.forEach((c, i) => checkNamed(`checkpoints[${i}]`, c));
  if (checkpoints.length < 1 || checkpoints.length > 2) {
    throw new ArgumentError('checkpoints', `give one or two checkpoints (a transformer and/or a tokenizer), got ${checkpoints.length}`);
  }
  const out: { transformer?: NamedCheckpoint; tokenizer?: NamedCheckpoint } = {};
  for (const c of checkpoints) {
    const kind = identifyCheckpoint(c.tree, c.source);
    const previous = out[kind];
    if (previous) {
      throw new CheckpointError(`${previous.source} and ${c.source} are both ${kind}s; give one transformer and one tokenizer checkpoint`);
    }
    out[kind] = c;
  }
  return out;
}

export interface ConvertOptions {
  /** Storage dtype of the converted weights (default 'f32'). */
  dtype?: 'f32' | 'f16';
  /** Codebook rows, needed when no tokenizer is given (default 1024, the official). */
  codebookSize?: number;
  /** Pixels per side; inferred from the position table when a transformer is given. */
  imageSize?: number;
}

export interface ConvertedModel {
  config: ModelFolderConfig;
  contents: ModelPart[];
  /** Engine-named tensors in the contract's order; `data` converts on demand (one at a time). */
  tensors: TensorBytes[];
  /** Total parameter count. */
  parameters: number;
  /** The name (`source`) of the checkpoint each part came from. */
  sources: Partial<Record<ModelPart, string>>;
}

/** How one engine tensor is made from Flax arrays. */
interface Mapping {
  readonly name: string;
  readonly shape: readonly number[];
  readonly sources: readonly { path: string; shape: readonly number[] }[];
  /** 'copy': one source, same bytes; 'rows': sources' rows side by side; 'concat': sources end to end. */
  readonly combine: 'copy' | 'rows' | 'concat';
}

function list(names: readonly string[]): string {
  return names.slice(0, 8).join(', ') + (names.length > 8 ? ` and ${names.length - 8} more` : '');
}

function indicesOf(tree: FlaxTree | undefined, prefix: string): number[] {
  if (!tree) return [];
  const re = new RegExp(`^${prefix}_(\\d+)$`);
  return Object.keys(tree)
    .map((k) => re.exec(k))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/**
 * How many `<prefix>_i` modules a tree holds. Flax numbers them 0, 1, 2, ... in call order, so
 * anything else (a gap, "_01" beside "_1", a stray huge index) is a damaged or foreign tree —
 * and must not size the model: TransformerLayer_99999999 alone would ask for 10^8 layers.
 */
function countOf(tree: FlaxTree | undefined, prefix: string, source: string, where: string): number {
  const idx = indicesOf(tree, prefix);
  idx.forEach((v, i) => {
    if (v !== i) {
      throw new CheckpointError(`${source}: ${where}${prefix}_i must be numbered 0..${idx.length - 1} as Flax names them; found ${prefix}_${v} in place of ${prefix}_${i}`);
    }
  });
  return idx.length;
}

/** The shape of the array at `path`, which sizes are inferred from (CheckpointError if absent). */
function shapeAt(flat: Map<string, FlaxValue>, path: string, rank: number, source: string): readonly number[] {
  const v = flat.get(path);
  if (!(v instanceof FlaxArray)) throw new CheckpointError(`${source}: missing parameter ${path}, which the model's sizes are read from`);
  if (v.shape.length !== rank) throw new CheckpointError(`${source}: ${path} has shape [${v.shape.join(', ')}], expected ${rank} dimensions`);
  return v.shape;
}

// ---------------------------------------------------------------------------- transformer

function inferTransformer(params: FlaxTree, source: string): TransformerConfig {
  const flat = flattenFlaxTree(params);
  const [vocabSize, hiddenSize] = shapeAt(flat, 'Embed_0/word_embeddings/embedding', 2, source) as [number, number];
  const [maxPositions] = shapeAt(flat, 'Embed_0/position_embeddings/embedding', 2, source) as [number, number];
  const numLayers = countOf(params, 'TransformerLayer', source, '');
  if (numLayers === 0) throw new CheckpointError(`${source}: no TransformerLayer_i found`);
  const [, numHeads, headDim] = shapeAt(flat, 'TransformerLayer_0/Attention_0/self_attention/query/kernel', 3, source) as [number, number, number];
  if (numHeads * headDim !== hiddenSize) {
    throw new CheckpointError(`${source}: attention kernels have ${numHeads} heads of ${headDim}, which is not the hidden size ${hiddenSize}`);
  }
  const [, mlpSize] = shapeAt(flat, 'TransformerLayer_0/Mlp_0/intermediate_output/kernel', 2, source) as [number, number];
  // Not stored in the tree: the official code's constants.
  return { vocabSize, hiddenSize, numLayers, numHeads, mlpSize, maxPositions, layerNormEps: OFFICIAL_TRANSFORMER.layerNormEps, gelu: 'tanh' };
}

const TRANSFORMER_LAYER: Readonly<Record<string, string>> = {
  'attn.out.weight': 'Attention_0/self_attention/out/kernel',
  'attn.out.bias': 'Attention_0/self_attention/out/bias',
  'attn.ln.scale': 'Attention_0/attention_output_ln/scale',
  'attn.ln.bias': 'Attention_0/attention_output_ln/bias',
  'mlp.fc1.weight': 'Mlp_0/intermediate_output/kernel',
  'mlp.fc1.bias': 'Mlp_0/intermediate_output/bias',
  'mlp.fc2.weight': 'Mlp_0/layer_output/kernel',
  'mlp.fc2.bias': 'Mlp_0/layer_output/bias',
  'mlp.ln.scale': 'Mlp_0/layer_output_ln/scale',
  'mlp.ln.bias': 'Mlp_0/layer_output_ln/bias',
};

const TRANSFORMER_TOP: Readonly<Record<string, string>> = {
  'transformer.embed.word': 'Embed_0/word_embeddings/embedding',
  'transformer.embed.position': 'Embed_0/position_embeddings/embedding',
  'transformer.embed.ln.scale': 'Embed_0/embeddings_ln/scale',
  'transformer.embed.ln.bias': 'Embed_0/embeddings_ln/bias',
  'transformer.head.dense.weight': 'MlmLayer_0/mlm_dense/kernel',
  'transformer.head.dense.bias': 'MlmLayer_0/mlm_dense/bias',
  'transformer.head.ln.scale': 'MlmLayer_0/mlm_ln/scale',
  'transformer.head.ln.bias': 'MlmLayer_0/mlm_ln/bias',
  'transformer.head.bias': 'MlmLayer_0/mlm_bias/bias',
};

function transformerMapping(c: TransformerConfig): Mapping[] {
  const H = c.hiddenSize;
  const heads = c.numHeads;
  const headDim = H / heads;
  return transformerParams(c).map((spec): Mapping => {
    const top = TRANSFORMER_TOP[spec.name];
    if (top) return { ...spec, sources: [{ path: top, shape: spec.shape }], combine: 'copy' };
    const m = /^transformer\.layers\.(\d+)\.(.+)$/.exec(spec.name);
    if (!m) throw new Error(`no Flax source for ${spec.name}`);
    const layer = `TransformerLayer_${m[1]}/`;
    const attention = `${layer}Attention_0/self_attention/`;
    switch (m[2]) {
      case 'attn.qkv.weight':
        return { ...spec, sources: ['query', 'key', 'value'].map((p) => ({ path: `${attention}${p}/kernel`, shape: [H, heads, headDim] })), combine: 'rows' };
      case 'attn.qkv.bias':
        return { ...spec, sources: ['query', 'key', 'value'].map((p) => ({ path: `${attention}${p}/bias`, shape: [heads, headDim] })), combine: 'concat' };
      case 'attn.out.weight':
        return { ...spec, sources: [{ path: `${attention}out/kernel`, shape: [heads, headDim, H] }], combine: 'copy' };
      default: {
        const path = TRANSFORMER_LAYER[m[2]!];
        if (!path) throw new Error(`no Flax source for ${spec.name}`);
        return { ...spec, sources: [{ path: layer + path, shape: spec.shape }], combine: 'copy' };
      }
    }
  });
}

// ------------------------------------------------------------------------------ tokenizer

interface TokenizerLayout {
  config: TokenizerConfig;
  levels: number;
}

function inferTokenizer(params: FlaxTree, source: string): TokenizerLayout {
  const flat = flattenFlaxTree(params);
  const encoder = isTree(params.encoder) ? params.encoder : undefined;
  const decoder = isTree(params.decoder) ? params.decoder : undefined;
  const [, , , filters] = shapeAt(flat, 'encoder/Conv_0/kernel', 4, source) as [number, number, number, number];
  const [codebookSize, embeddingDim] = shapeAt(flat, 'quantizer/codebook', 2, source) as [number, number];
  // The decoder's convs are Conv_0 (in), one upsampling conv per level but the first, and the
  // output conv last: its highest number is the level count.
  const levels = countOf(decoder, 'Conv', source, 'decoder/') - 1;
  if (levels < 1) throw new CheckpointError(`${source}: the decoder has no output conv (decoder/Conv_k with k >= 1)`);
  const encoderBlocks = countOf(encoder, 'ResBlock', source, 'encoder/');
  const decoderBlocks = countOf(decoder, 'ResBlock', source, 'decoder/');
  const numResBlocks = encoderBlocks / (levels + 1);
  if (encoderBlocks === 0 || !Number.isInteger(numResBlocks) || decoderBlocks !== encoderBlocks) {
    throw new CheckpointError(
      `${source}: ${encoderBlocks} encoder and ${decoderBlocks} decoder res blocks do not fit ${levels} levels ` +
        `(each side has (levels + 1) x blocks per level: one group per level plus the middle)`,
    );
  }
  const channelMultipliers: number[] = [];
  for (let level = 0; level < levels; level++) {
    const path = `encoder/ResBlock_${level * numResBlocks}/Conv_0/kernel`;
    const width = shapeAt(flat, path, 4, source)[3]!;
    if (width % filters !== 0) throw new CheckpointError(`${source}: ${path} has ${width} output channels, not a multiple of the base width ${filters}`);
    channelMultipliers.push(width / filters);
  }
  return {
    levels,
    config: {
      filters,
      channelMultipliers,
      numResBlocks,
      embeddingDim,
      codebookSize,
      // Not stored in the tree: Flax GroupNorm's defaults, as the official code uses them.
      groupNormGroups: OFFICIAL_TOKENIZER.groupNormGroups,
      groupNormEps: OFFICIAL_TOKENIZER.groupNormEps,
    },
  };
}

const RES_BLOCK: Readonly<Record<string, string>> = {
  'norm1.scale': 'GroupNorm_0/scale',
  'norm1.bias': 'GroupNorm_0/bias',
  'conv1.weight': 'Conv_0/kernel',
  'norm2.scale': 'GroupNorm_1/scale',
  'norm2.bias': 'GroupNorm_1/bias',
  'conv2.weight': 'Conv_1/kernel',
  'shortcut.weight': 'Conv_2/kernel',
};

/** The Flax path of one tokenizer parameter (same layout as the engine's). */
function tokenizerPath(name: string, c: TokenizerConfig, levels: number): string {
  const nr = c.numResBlocks;
  const block = (side: string, index: number, rest: string) => {
    const sub = RES_BLOCK[rest];
    if (!sub) throw new Error(`no Flax source for ${name}`);
    return `${side}/ResBlock_${index}/${sub}`;
  };
  const leaf = (suffix: string) => (suffix.endsWith('weight') ? 'kernel' : 'bias');
  let m: RegExpExecArray | null;
  if ((m = /^tokenizer\.encoder\.down\.(\d+)\.block\.(\d+)\.(.+)$/.exec(name))) return block('encoder', Number(m[1]) * nr + Number(m[2]), m[3]!);
  if ((m = /^tokenizer\.encoder\.mid\.block\.(\d+)\.(.+)$/.exec(name))) return block('encoder', levels * nr + Number(m[1]), m[2]!);
  if ((m = /^tokenizer\.decoder\.mid\.block\.(\d+)\.(.+)$/.exec(name))) return block('decoder', Number(m[1]), m[2]!);
  // Decoder levels run from the deepest up, after the middle blocks.
  if ((m = /^tokenizer\.decoder\.up\.(\d+)\.block\.(\d+)\.(.+)$/.exec(name))) return block('decoder', nr + (levels - 1 - Number(m[1])) * nr + Number(m[2]), m[3]!);
  if ((m = /^tokenizer\.decoder\.up\.(\d+)\.upsample\.(weight|bias)$/.exec(name))) return `decoder/Conv_${levels - Number(m[1])}/${leaf(m[2]!)}`;
  if ((m = /^tokenizer\.(encoder|decoder)\.norm_out\.(scale|bias)$/.exec(name))) return `${m[1]}/GroupNorm_0/${m[2]}`;
  if ((m = /^tokenizer\.(encoder|decoder)\.conv_in\.(weight|bias)$/.exec(name))) return `${m[1]}/Conv_0/${leaf(m[2]!)}`;
  if ((m = /^tokenizer\.encoder\.conv_out\.(weight|bias)$/.exec(name))) return `encoder/Conv_1/${leaf(m[1]!)}`;
  if ((m = /^tokenizer\.decoder\.conv_out\.(weight|bias)$/.exec(name))) return `decoder/Conv_${levels}/${leaf(m[1]!)}`;
  if (name === 'tokenizer.quantizer.codebook') return 'quantizer/codebook';
  throw new Error(`no Flax source for ${name}`);
}

function tokenizerMapping(c: TokenizerConfig, levels: number): Mapping[] {
  return tokenizerParams(c).map((spec) => ({ ...spec, sources: [{ path: tokenizerPath(spec.name, c, levels), shape: spec.shape }], combine: 'copy' }));
}

// ------------------------------------------------------------------------------ converting

/** Every expected array present with its shape and a float dtype, nothing else in the tree. */
function checkTree(params: FlaxTree, mappings: readonly Mapping[], source: string): Map<string, FlaxArray> {
  const flat = flattenFlaxTree(params);
  const expected = new Map<string, readonly number[]>();
  for (const m of mappings) for (const s of m.sources) expected.set(s.path, s.shape);
  const missing = [...expected.keys()].filter((p) => !flat.has(p));
  const extra = [...flat.keys()].filter((p) => !expected.has(p));
  const problems: string[] = [];
  if (missing.length) problems.push(`missing parameters: ${list(missing)}`);
  if (extra.length) problems.push(`unexpected parameters: ${list(extra)}`);
  const wrong: string[] = [];
  const arrays = new Map<string, FlaxArray>();
  for (const [path, shape] of expected) {
    const v = flat.get(path);
    if (v === undefined) continue;
    if (!(v instanceof FlaxArray)) wrong.push(`${path} is not an array`);
    else if (v.shape.length !== shape.length || v.shape.some((d, i) => d !== shape[i])) {
      wrong.push(`${path} has shape [${v.shape.join(', ')}], expected [${shape.join(', ')}]`);
    } else if (!['float32', 'float16', 'bfloat16', 'float64'].includes(v.dtype)) wrong.push(`${path} is ${v.dtype}, expected a float array`);
    else arrays.set(path, v);
  }
  if (wrong.length) problems.push(list(wrong));
  if (problems.length) throw new CheckpointError(`${source}: ${problems.join('; ')}`);
  return arrays;
}

/** An array's values as little-endian f32 bytes (the file's bytes when it is float32: no copy). */
function f32Bytes(a: FlaxArray): Uint8Array {
  switch (a.dtype) {
    case 'float32':
      return a.bytes;
    case 'float16':
      return f16BytesToF32(a.bytes);
    case 'bfloat16':
      return bf16BytesToF32(a.bytes);
    default:
      return f64BytesToF32(a.bytes);
  }
}

function combine(m: Mapping, parts: Uint8Array[]): Uint8Array {
  if (m.combine === 'copy') return parts[0]!;
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  if (m.combine === 'concat') {
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }
  // 'rows': row i of the result is row i of each source, side by side.
  const rows = m.shape[0]!;
  const rowBytes = parts.map((p) => p.byteLength / rows);
  const outRow = total / rows;
  for (let r = 0; r < rows; r++) {
    let at = r * outRow;
    parts.forEach((p, k) => {
      out.set(p.subarray(r * rowBytes[k]!, (r + 1) * rowBytes[k]!), at);
      at += rowBytes[k]!;
    });
  }
  return out;
}

function tensorsFor(mappings: readonly Mapping[], arrays: Map<string, FlaxArray>, dtype: 'f32' | 'f16'): TensorBytes[] {
  return mappings.map((m) => ({
    name: m.name,
    shape: m.shape,
    dtype: dtype === 'f16' ? 'F16' : 'F32',
    data: () => {
      const f32 = combine(m, m.sources.map((s) => f32Bytes(arrays.get(s.path)!)));
      return dtype === 'f16' ? f32BytesToF16(f32) : f32;
    },
  }));
}

function wrongRole(given: NamedCheckpoint, expected: CheckpointKind): void {
  const kind = identifyCheckpoint(given.tree, given.source);
  if (kind !== expected) {
    throw new CheckpointError(
      `${given.source} was given as the ${expected} but is a ${kind} checkpoint (it has ${kind === 'tokenizer' ? 'encoder/decoder/quantizer' : 'Embed_0/TransformerLayer_i'}); ` +
        `pass it as the ${kind} (maskgit convert accepts the two files in either order)`,
    );
  }
}

/** Checks and converts the given checkpoints; the config describes what they hold. */
export function convertFlaxCheckpoints(
  parts: { transformer?: NamedCheckpoint; tokenizer?: NamedCheckpoint },
  options: ConvertOptions = {},
): ConvertedModel {
  if (!isPlainObject(parts)) throw new ArgumentError('checkpoints', `must be { transformer?, tokenizer? }, got ${describeValue(parts)}`);
  if (parts.transformer !== undefined) checkNamed('transformer', parts.transformer);
  if (parts.tokenizer !== undefined) checkNamed('tokenizer', parts.tokenizer);
  options = optionsObject('options', options);
  const dtype = options.dtype ?? 'f32';
  if (dtype !== 'f32' && dtype !== 'f16') throw new ArgumentError('dtype', `must be "f32" or "f16", got ${String(dtype)}`);
  if (!parts.transformer && !parts.tokenizer) throw new ArgumentError('checkpoints', 'give a transformer and/or a tokenizer checkpoint');
  for (const [name, v] of Object.entries({ codebookSize: options.codebookSize, imageSize: options.imageSize })) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new ArgumentError(name, `must be a positive integer, got ${String(v)}`);
  }
  if (parts.transformer) wrongRole(parts.transformer, 'transformer');
  if (parts.tokenizer) wrongRole(parts.tokenizer, 'tokenizer');

  const tokParams = parts.tokenizer && checkpointParams(parts.tokenizer.tree);
  const tok = parts.tokenizer && inferTokenizer(tokParams!, parts.tokenizer.source);
  if (tok && options.codebookSize !== undefined && options.codebookSize !== tok.config.codebookSize) {
    throw new ArgumentError('codebookSize', `${options.codebookSize} disagrees with the tokenizer's codebook of ${tok.config.codebookSize} rows; leave it out`);
  }
  const codebookSize = tok?.config.codebookSize ?? options.codebookSize ?? OFFICIAL_TOKENIZER.codebookSize;
  const tokenizer: TokenizerConfig = tok?.config ?? { ...OFFICIAL_TOKENIZER, channelMultipliers: [...OFFICIAL_TOKENIZER.channelMultipliers], codebookSize };
  const downsample = 2 ** (tokenizer.channelMultipliers.length - 1);

  const tfmParams = parts.transformer && checkpointParams(parts.transformer.tree);
  const tfm = parts.transformer && inferTransformer(tfmParams!, parts.transformer.source);
  let imageSize = options.imageSize;
  let numClasses = 1000;
  if (tfm) {
    numClasses = tfm.vocabSize - codebookSize - 1;
    if (numClasses < 1) {
      throw new CheckpointError(
        `${parts.transformer!.source}: a vocabulary of ${tfm.vocabSize} cannot hold a codebook of ${codebookSize}, classes and the mask token` +
          (tok ? '' : '; pass the codebook size (--codebook-size N)'),
      );
    }
    if (imageSize === undefined) {
      const grid = Math.round(Math.sqrt(tfm.maxPositions - 1));
      if (grid < 1 || grid * grid !== tfm.maxPositions - 1) {
        throw new CheckpointError(
          `${parts.transformer!.source}: ${tfm.maxPositions} position embeddings are not 1 class token + a square grid of image tokens; pass the image size (--image-size N)`,
        );
      }
      imageSize = grid * downsample;
    }
  }
  imageSize ??= 16 * downsample;
  const tokens = (imageSize / downsample) ** 2;
  const transformer: TransformerConfig = tfm ?? { ...OFFICIAL_TRANSFORMER, vocabSize: codebookSize + numClasses + 1, maxPositions: tokens + 1 };
  const contents: ModelPart[] = [...(tfm ? (['transformer'] as const) : []), ...(tok ? (['tokenizer'] as const) : [])];
  const config: ModelFolderConfig = {
    format: 'maskgit-model',
    version: 1,
    imageSize,
    codebookSize,
    numClasses,
    maskTokenId: transformer.vocabSize - 1,
    nullClassId: null,
    dtype,
    transformer,
    tokenizer,
    contents,
  };
  try {
    validateConfig(config);
  } catch (error) {
    if (error instanceof ArgumentError) {
      throw new CheckpointError(`the checkpoints imply an invalid model config (${error.message})`, { cause: error });
    }
    throw error;
  }

  const tensors: TensorBytes[] = [];
  if (tfm) {
    const mappings = transformerMapping(tfm);
    tensors.push(...tensorsFor(mappings, checkTree(tfmParams!, mappings, parts.transformer!.source), dtype));
  }
  if (tok) {
    const mappings = tokenizerMapping(tok.config, tok.levels);
    tensors.push(...tensorsFor(mappings, checkTree(tokParams!, mappings, parts.tokenizer!.source), dtype));
  }
  const parameters = tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  const sources: Partial<Record<ModelPart, string>> = {};
  if (parts.transformer) sources.transformer = parts.transformer.source;
  if (parts.tokenizer) sources.tokenizer = parts.tokenizer.source;
  return { config, contents, tensors, parameters, sources };
}

/** A checkpoint file to convert: its bytes (read on demand) and its name for messages. */
export interface CheckpointFile {
  readonly bytes: ByteSource;
  readonly source: string;
}

/**
 * What `maskgit convert` and the browser's converter both run: reads one or two checkpoint
 * files (structure only: every array stays in its file until its converted tensor is written,
 * so memory holds one tensor at a time, not the checkpoint), assigns their roles and converts.
 * The files must stay readable until the tensors have been written.
 */
export function convertCheckpointFiles(
  files: readonly CheckpointFile[],
  options: ConvertOptions & { onRead?: (file: CheckpointFile, position: number) => void } = {},
): ConvertedModel {
  const { onRead, ...convert } = optionsObject('options', options);
  if (!Array.isArray(files)) throw new ArgumentError('files', `must be a list of { bytes, source }, got ${describeValue(files)}`);
  const checkpoints = files.map((file) => ({
    tree: readFlaxCheckpoint(file.bytes, file.source, { lazy: true, onPosition: onRead && ((position) => onRead(file, position)) }),
    source: file.source,
  }));
  return convertFlaxCheckpoints(sortCheckpoints(checkpoints), convert);
}
