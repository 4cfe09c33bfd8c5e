// Checkpoints in the official MaskGIT Flax layout, built the way Flax names them: each
// module call inside a compact module takes the next `<Type>_<n>` name, in call order (as in
// maskgit/nets/vqgan_tokenizer.py and maskgit_transformer.py). Written independently of
// src/io/convert.ts: every array also records the engine parameter it must become, with the
// engine layout computed here, so a test can check the importer against it.
import { FlaxArray, type FlaxTree } from '../../src/node.js';
import { rng } from './random.js';

export interface TinyTransformer {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  mlp: number;
  positions: number;
}

export interface TinyTokenizer {
  filters: number;
  multipliers: number[];
  resBlocks: number;
  embeddingDim: number;
  codebook: number;
}

/** A Flax tree plus, for each engine parameter name, the values it must hold (engine layout). */
export interface Fixture {
  tree: FlaxTree;
  expected: Map<string, { shape: number[]; values: Float32Array }>;
}

/** Distinct values: a seeded stream, scaled so no two tensors look alike. */
function values(n: number, random: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 2 - 1) * 0.5;
  return out;
}

/** A Flax compact scope: children named <Type>_<count of that type so far>, or explicitly. */
class Scope {
  readonly node: FlaxTree = {};
  private counts = new Map<string, number>();
  constructor(private readonly random: () => number) {}

  child(type: string, name?: string): Scope {
    const n = this.counts.get(type) ?? 0;
    if (!name) this.counts.set(type, n + 1);
    const scope = new Scope(this.random);
    this.node[name ?? `${type}_${n}`] = scope.node;
    return scope;
  }

  param(name: string, shape: number[]): Float32Array {
    const v = values(shape.reduce((a, b) => a * b, 1), this.random);
    this.node[name] = FlaxArray.fromFloat32(v, shape);
    return v;
  }
}

export function transformerFixture(c: TinyTransformer, seed = 1): Fixture {
  const random = rng(seed);
  const root = new Scope(random);
  const expected = new Map<string, { shape: number[]; values: Float32Array }>();
  const H = c.hidden;
  const headDim = H / c.heads;
  const keep = (name: string, shape: number[], v: Float32Array) => expected.set(name, { shape, values: v });
  const layerNorm = (scope: Scope, name: string, engine: string) => {
    const ln = scope.child('LayerNorm', name);
    keep(`${engine}.scale`, [H], ln.param('scale', [H]));
    keep(`${engine}.bias`, [H], ln.param('bias', [H]));
  };
  const dense = (scope: Scope, name: string, engine: string, fanIn: number, fanOut: number) => {
    const d = scope.child('Dense', name);
    keep(`${engine}.weight`, [fanIn, fanOut], d.param('kernel', [fanIn, fanOut]));
    keep(`${engine}.bias`, [fanOut], d.param('bias', [fanOut]));
  };

  const embed = root.child('Embed');
  keep('transformer.embed.word', [c.vocab, H], embed.child('Embed', 'word_embeddings').param('embedding', [c.vocab, H]));
  keep('transformer.embed.position', [c.positions, H], embed.child('Embed', 'position_embeddings').param('embedding', [c.positions, H]));
  layerNorm(embed, 'embeddings_ln', 'transformer.embed.ln');

  for (let i = 0; i < c.layers; i++) {
    const layer = root.child('TransformerLayer');
    const p = `transformer.layers.${i}`;
    const attention = layer.child('Attention');
    const self = attention.child('SelfAttention', 'self_attention');
    const q: Float32Array[] = [];
    const b: Float32Array[] = [];
    for (const name of ['query', 'key', 'value']) {
      const d = self.child('DenseGeneral', name);
      q.push(d.param('kernel', [H, c.heads, headDim]));
      b.push(d.param('bias', [c.heads, headDim]));
    }
    // Engine layout: qkv[i, s*H + h*headDim + d] = kernel_s[i, h, d]; bias likewise.
    const qkv = new Float32Array(H * 3 * H);
    const qkvBias = new Float32Array(3 * H);
    for (let s = 0; s < 3; s++) {
      for (let row = 0; row < H; row++) {
        for (let h = 0; h < c.heads; h++) {
          for (let d = 0; d < headDim; d++) qkv[row * 3 * H + s * H + h * headDim + d] = q[s]![(row * c.heads + h) * headDim + d]!;
        }
      }
      for (let h = 0; h < c.heads; h++) for (let d = 0; d < headDim; d++) qkvBias[s * H + h * headDim + d] = b[s]![h * headDim + d]!;
    }
    keep(`${p}.attn.qkv.weight`, [H, 3 * H], qkv);
    keep(`${p}.attn.qkv.bias`, [3 * H], qkvBias);
    const out = self.child('DenseGeneral', 'out');
    const outKernel = out.param('kernel', [c.heads, headDim, H]);
    // Engine layout: out[h*headDim + d, j] = kernel[h, d, j].
    const outWeight = new Float32Array(H * H);
    for (let h = 0; h < c.heads; h++) {
      for (let d = 0; d < headDim; d++) for (let j = 0; j < H; j++) outWeight[(h * headDim + d) * H + j] = outKernel[(h * headDim + d) * H + j]!;
    }
    keep(`${p}.attn.out.weight`, [H, H], outWeight);
    keep(`${p}.attn.out.bias`, [H], out.param('bias', [H]));
    layerNorm(attention, 'attention_output_ln', `${p}.attn.ln`);
    const mlp = layer.child('Mlp');
    dense(mlp, 'intermediate_output', `${p}.mlp.fc1`, H, c.mlp);
    dense(mlp, 'layer_output', `${p}.mlp.fc2`, c.mlp, H);
    layerNorm(mlp, 'layer_output_ln', `${p}.mlp.ln`);
  }
  const mlm = root.child('MlmLayer');
  dense(mlm, 'mlm_dense', 'transformer.head.dense', H, H);
  layerNorm(mlm, 'mlm_ln', 'transformer.head.ln');
  keep('transformer.head.bias', [c.vocab], mlm.child('Bias', 'mlm_bias').param('bias', [c.vocab]));
  return { tree: { params: root.node }, expected };
}

export function tokenizerFixture(c: TinyTokenizer, seed = 2): Fixture {
  const random = rng(seed);
  const root = new Scope(random);
  const expected = new Map<string, { shape: number[]; values: Float32Array }>();
  const keep = (name: string, shape: number[], v: Float32Array) => expected.set(name, { shape, values: v });
  const conv = (scope: Scope, engine: string, k: number, cin: number, cout: number, bias: boolean) => {
    const cv = scope.child('Conv');
    keep(`${engine}.weight`, [k, k, cin, cout], cv.param('kernel', [k, k, cin, cout]));
    if (bias) keep(`${engine}.bias`, [cout], cv.param('bias', [cout]));
  };
  const groupNorm = (scope: Scope, engine: string, channels: number) => {
    const gn = scope.child('GroupNorm');
    keep(`${engine}.scale`, [channels], gn.param('scale', [channels]));
    keep(`${engine}.bias`, [channels], gn.param('bias', [channels]));
  };
  // ResBlock: GroupNorm, Conv3x3, GroupNorm, Conv3x3, then (when the width changes) the 1x1
  // shortcut conv on the block's output.
  const resBlock = (parent: Scope, engine: string, cin: number, filters: number) => {
    const block = parent.child('ResBlock');
    groupNorm(block, `${engine}.norm1`, cin);
    conv(block, `${engine}.conv1`, 3, cin, filters, false);
    groupNorm(block, `${engine}.norm2`, filters);
    conv(block, `${engine}.conv2`, 3, filters, filters, false);
    if (cin !== filters) conv(block, `${engine}.shortcut`, 1, filters, filters, false);
  };
  const levels = c.multipliers.length;

  const encoder = root.child('Encoder', 'encoder');
  conv(encoder, 'tokenizer.encoder.conv_in', 3, 3, c.filters, false);
  let width = c.filters;
  for (let level = 0; level < levels; level++) {
    const filters = c.filters * c.multipliers[level]!;
    for (let j = 0; j < c.resBlocks; j++) {
      resBlock(encoder, `tokenizer.encoder.down.${level}.block.${j}`, width, filters);
      width = filters;
    }
  }
  for (let j = 0; j < c.resBlocks; j++) resBlock(encoder, `tokenizer.encoder.mid.block.${j}`, width, width);
  groupNorm(encoder, 'tokenizer.encoder.norm_out', width);
  conv(encoder, 'tokenizer.encoder.conv_out', 1, width, c.embeddingDim, true);

  const decoder = root.child('Decoder', 'decoder');
  width = c.filters * c.multipliers[levels - 1]!;
  conv(decoder, 'tokenizer.decoder.conv_in', 3, c.embeddingDim, width, true);
  for (let j = 0; j < c.resBlocks; j++) resBlock(decoder, `tokenizer.decoder.mid.block.${j}`, width, width);
  for (let level = levels - 1; level >= 0; level--) {
    const filters = c.filters * c.multipliers[level]!;
    for (let j = 0; j < c.resBlocks; j++) {
      resBlock(decoder, `tokenizer.decoder.up.${level}.block.${j}`, width, filters);
      width = filters;
    }
    if (level > 0) conv(decoder, `tokenizer.decoder.up.${level}.upsample`, 3, filters, filters, true);
  }
  groupNorm(decoder, 'tokenizer.decoder.norm_out', width);
  conv(decoder, 'tokenizer.decoder.conv_out', 3, width, 3, true);

  const quantizer = root.child('VectorQuantizer', 'quantizer');
  keep('tokenizer.quantizer.codebook', [c.codebook, c.embeddingDim], quantizer.param('codebook', [c.codebook, c.embeddingDim]));
  return { tree: { params: root.node }, expected };
}

export const TINY_TRANSFORMER: TinyTransformer = { vocab: 16 + 5 + 1, hidden: 12, layers: 2, heads: 3, mlp: 20, positions: 17 };
/** Widths divisible by 32 (GroupNorm's 32 groups); three levels, a repeated multiplier and a width change (as officially). */
export const TINY_TOKENIZER: TinyTokenizer = { filters: 32, multipliers: [1, 1, 2], resBlocks: 2, embeddingDim: 8, codebook: 16 };

export const OFFICIAL_TRANSFORMER_SIZES: TinyTransformer = { vocab: 2025, hidden: 768, layers: 24, heads: 16, mlp: 3072, positions: 257 };
export const OFFICIAL_TOKENIZER_SIZES: TinyTokenizer = { filters: 128, multipliers: [1, 1, 2, 2, 4], resBlocks: 2, embeddingDim: 256, codebook: 1024 };
