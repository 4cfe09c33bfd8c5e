// The Flax importer: official-layout checkpoints for tiny configs -> model folder -> GPU, every
// engine tensor checked exactly against the original arrays after the documented layout change.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ArgumentError,
  BidirectionalTransformer,
  CheckpointError,
  convertFlaxCheckpoints,
  FlaxArray,
  identifyCheckpoint,
  loadMaskGIT,
  loadModelWeights,
  readFlaxCheckpointFile,
  sortCheckpoints,
  tokenizerParams,
  transformerParams,
  writeFlaxCheckpointFile,
  writeModelFolder,
  type FlaxTree,
  VQGANTokenizer,
  type Tensor,
} from '../src/node.js';
import { expectClose, maxAbsError } from './helpers/compare.js';
import { getEngine } from './helpers/engine.js';
import { flaxDecoder, flaxTransformerLogits } from './helpers/flax-reference.js';
import { oracle } from './helpers/oracle.js';
import { randomInts } from './helpers/random.js';
import { TINY_TOKENIZER, TINY_TRANSFORMER, tokenizerFixture, transformerFixture, type Fixture } from './helpers/flax-fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'maskgit-convert-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const transformer = transformerFixture(TINY_TRANSFORMER);
const tokenizer = tokenizerFixture(TINY_TOKENIZER);

/** Asserts every engine tensor equals the fixture's expected values bit for bit. */
async function expectExact(weights: Map<string, Tensor>, fixture: Fixture): Promise<void> {
  for (const [name, want] of fixture.expected) {
    const t = weights.get(name);
    expect(t, name).toBeDefined();
    expect([...t!.shape], name).toEqual(want.shape);
    const got = await t!.read();
    expect(firstDifference(got, want.values), name).toBe(-1);
  }
}

/** Index of the first element whose bits differ, or -1. */
function firstDifference(a: ArrayLike<number> & ArrayBufferView, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** A copy of a tree (maps copied, arrays shared) with one edit at a slash path (undefined deletes). */
function edited(tree: FlaxTree, path: string, value: FlaxTree[string] | undefined): FlaxTree {
  const clone = (node: FlaxTree): FlaxTree =>
    Object.fromEntries(
      Object.entries(node).map(([k, v]) => [k, v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof FlaxArray) && !(v instanceof Uint8Array) ? clone(v) : v]),
    );
  const copy = clone(tree);
  const keys = path.split('/');
  let node = copy;
  for (const k of keys.slice(0, -1)) node = node[k] as FlaxTree;
  if (value === undefined) delete node[keys[keys.length - 1]!];
  else node[keys[keys.length - 1]!] = value;
  return copy;
}

describe('Flax checkpoint import', () => {
  it('converts official-layout transformer + tokenizer checkpoints exactly (files on disk, either order)', async () => {
    const engine = await getEngine();
    const tfmFile = join(work, 'transformer_checkpoint');
    const tokFile = join(work, 'tokenizer_checkpoint');
    await writeFlaxCheckpointFile(tfmFile, transformer.tree);
    await writeFlaxCheckpointFile(tokFile, tokenizer.tree);
    // Tokenizer first: the order of the files does not matter.
    const parts = sortCheckpoints([
      { tree: await readFlaxCheckpointFile(tokFile), source: tokFile },
      { tree: await readFlaxCheckpointFile(tfmFile), source: tfmFile },
    ]);
    const model = convertFlaxCheckpoints(parts);
    const c = model.config;
    expect(c.transformer).toEqual({ vocabSize: 22, hiddenSize: 12, numLayers: 2, numHeads: 3, mlpSize: 20, maxPositions: 17, layerNormEps: 1e-12, gelu: 'tanh' });
    expect(c.tokenizer).toEqual({ filters: 32, channelMultipliers: [1, 1, 2], numResBlocks: 2, embeddingDim: 8, codebookSize: 16, groupNormGroups: 32, groupNormEps: 1e-6 });
    // 16 image tokens = a 4x4 latent grid, upsampled 2^(3-1) times; classes = 22 - 16 - 1.
    expect([c.imageSize, c.codebookSize, c.numClasses, c.maskTokenId, c.dtype]).toEqual([16, 16, 5, 21, 'f32']);
    expect(model.contents).toEqual(['transformer', 'tokenizer']);
    // Exactly the engine's contract, in its order.
    expect(model.tensors.map((t) => t.name)).toEqual([...transformerParams(c.transformer), ...tokenizerParams(c.tokenizer)].map((s) => s.name));

    const dir = join(work, 'model-f32');
    await writeModelFolder(dir, model.config, model.tensors);
    const loaded = await loadModelWeights(engine, dir);
    expect(loaded.dtype).toBe('f32');
    expect(loaded.weights.size).toBe(transformer.expected.size + tokenizer.expected.size);
    await expectExact(loaded.weights, transformer);
    await expectExact(loaded.weights, tokenizer);
    for (const t of loaded.weights.values()) t.dispose();
  });

  it('the converted model computes what the original arrays compute: transformer logits and tokenizer decode (loadMaskGIT)', async () => {
    const engine = await getEngine();
    const tf = await oracle();
    const model = convertFlaxCheckpoints({ transformer: { tree: transformer.tree, source: 'a' }, tokenizer: { tree: tokenizer.tree, source: 'b' } });
    const dir = join(work, 'model-forward');
    await writeModelFolder(dir, model.config, model.tensors);
    const loaded = await loadMaskGIT(engine, dir);
    expect(loaded.transformer).toBeInstanceOf(BidirectionalTransformer);
    expect(loaded.tokenizer).toBeInstanceOf(VQGANTokenizer);
    // Transformer: a class token, image tokens and mask tokens, two sequences of 17.
    const ids = randomInts(2 * 17, 31, 0, 16);
    ids[0] = 16 + 2;
    ids[17] = 16 + 4;
    for (const i of [3, 5, 20, 33]) ids[i] = 21;
    const logits = loaded.transformer.forward(engine.tensor(ids, [2, 17], 'i32'));
    const want = flaxTransformerLogits(tf, transformer.tree, ids, 2, 17, TINY_TRANSFORMER.heads);
    // f32 on both sides, the same math in other orders (fused QKV and heads vs per-head
    // products): a few ulps of O(1) values through 5 LayerNorms (as the transformer tests).
    const got = await logits.read();
    console.log(`converted forward: max abs logit error ${maxAbsError(got, want).error.toExponential(2)} (logits up to ${Math.max(...want.map(Math.abs)).toFixed(2)})`);
    expectClose(got, want, { atol: 2e-5, rtol: 1e-4 }, 'logits');
    // Tokenizer: a 4x4 token grid decoded to 16x16 pixels, before and after the clip to [0, 1].
    const tokens = randomInts(2 * 16, 32, 0, 16);
    const refPixels = flaxDecoder(tf, tokenizer.tree, tokens, [2, 4, 4], TINY_TOKENIZER.resBlocks);
    const latents = loaded.tokenizer.quantizer.lookup(engine.tensor(tokens, [2, 4, 4], 'i32'));
    const raw = await loaded.tokenizer.decoder.forward(latents).read();
    // 14 convs and 13 GroupNorms of 32-64 channels in f32, summed in other orders than tfjs.
    const scale = Math.max(...refPixels.map(Math.abs));
    console.log(`converted decoder: max abs error ${maxAbsError(raw, refPixels).error.toExponential(2)} (outputs up to ${scale.toFixed(2)})`);
    expectClose(raw, refPixels, { atol: 1e-5 * scale, rtol: 1e-4 }, 'decoder output');
    const decoded = await loaded.tokenizer.decode(engine.tensor(tokens, [2, 16], 'i32')).read();
    expectClose(decoded, refPixels.map((v) => Math.min(1, Math.max(0, v))), { atol: 1e-5 * scale, rtol: 1e-4 }, 'decode (clipped)');
    expect(refPixels.some((v) => v > 0 && v < 1), 'some pixels inside (0, 1), not all clipped').toBe(true);
    loaded.dispose();
  });

  it('reads Flax chunked arrays (split 1-D pieces) to the same tensors', async () => {
    const engine = await getEngine();
    const file = join(work, 'chunked_transformer');
    // 100-byte chunks: every array over 25 floats is split, as Flax splits arrays over 2^30 bytes.
    await writeFlaxCheckpointFile(file, transformer.tree, { maxChunkBytes: 100 });
    const tree = await readFlaxCheckpointFile(file);
    const model = convertFlaxCheckpoints({ transformer: { tree, source: file } }, { codebookSize: 16 });
    const dir = join(work, 'model-chunked');
    await writeModelFolder(dir, model.config, model.tensors);
    const loaded = await loadModelWeights(engine, dir);
    await expectExact(loaded.weights, transformer);
    for (const t of loaded.weights.values()) t.dispose();
  });

  it('converts to f16 storage: every value is the f32 value rounded to nearest-even f16', async () => {
    const engine = await getEngine();
    const model = convertFlaxCheckpoints({ tokenizer: { tree: tokenizer.tree, source: 'tok' } }, { dtype: 'f16' });
    expect(model.config.dtype).toBe('f16');
    const dir = join(work, 'model-f16');
    await writeModelFolder(dir, model.config, model.tensors);
    const loaded = await loadModelWeights(engine, dir);
    expect(loaded.dtype).toBe(engine.hasF16 ? 'f16' : 'f32');
    // Values in (-0.5, 0.5): f16 spacing there is <= 2^-12, so the rounding error is <= 2^-13.
    // Every tensor is checked: the host conversion reuses one buffer across tensors.
    let worst = 0;
    for (const [name, { values: want }] of tokenizer.expected) {
      const got = await loaded.weights.get(name)!.read();
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    }
    expect(worst).toBeLessThanOrEqual(2 ** -13);
    expect(worst).toBeGreaterThan(0);
    for (const t of loaded.weights.values()) t.dispose();
  });

  it('identifies which checkpoint is which, and rejects a tokenizer given as the transformer', () => {
    expect(identifyCheckpoint(transformer.tree)).toBe('transformer');
    expect(identifyCheckpoint(tokenizer.tree)).toBe('tokenizer');
    // A bare tree (no {params: ...} wrapper) is accepted too.
    expect(identifyCheckpoint(tokenizer.tree.params as FlaxTree)).toBe('tokenizer');
    expect(() => convertFlaxCheckpoints({ transformer: { tree: tokenizer.tree, source: 'tok.msgpack' } })).toThrow(CheckpointError);
    expect(() => convertFlaxCheckpoints({ transformer: { tree: tokenizer.tree, source: 'tok.msgpack' } })).toThrow(
      /tok\.msgpack was given as the transformer but is a tokenizer checkpoint/,
    );
    expect(() => convertFlaxCheckpoints({ tokenizer: { tree: transformer.tree, source: 'tfm' } })).toThrow(/given as the tokenizer but is a transformer/);
    expect(() => sortCheckpoints([{ tree: transformer.tree, source: 'a' }, { tree: transformer.tree, source: 'b' }])).toThrow(/a and b are both transformers/);
    expect(() => identifyCheckpoint({ params: { foo: { bar: FlaxArray.fromFloat32(new Float32Array(1), [1]) } } }, 'x')).toThrow(
      /x is neither a MaskGIT transformer .* nor a VQGAN tokenizer.*foo/,
    );
  });

  it('names missing and extra parameters, and wrong shapes', () => {
    const q = 'TransformerLayer_1/Attention_0/self_attention/query/kernel';
    const missing = edited(transformer.tree, `params/${q}`, undefined);
    const tiny = { codebookSize: 16 };
    expect(() => convertFlaxCheckpoints({ transformer: { tree: missing, source: 'tfm' } }, tiny)).toThrow(CheckpointError);
    expect(() => convertFlaxCheckpoints({ transformer: { tree: missing, source: 'tfm' } }, tiny)).toThrow(`tfm: missing parameters: ${q}`);

    const extra = edited(tokenizer.tree, 'params/decoder/Conv_9', { kernel: FlaxArray.fromFloat32(new Float32Array(4), [1, 1, 2, 2]) });
    // Conv_9 beside Conv_0..Conv_3 is a gap in Flax's numbering (it used to read as 9 levels).
    expect(() => convertFlaxCheckpoints({ tokenizer: { tree: extra, source: 'tok' } })).toThrow(/tok: decoder\/Conv_i must be numbered 0..4 as Flax names them; found Conv_9 in place of Conv_4/);
    const stray = edited(tokenizer.tree, 'params/encoder/ResBlock_0/Dense_0', { kernel: FlaxArray.fromFloat32(new Float32Array(4), [2, 2]) });
    expect(() => convertFlaxCheckpoints({ tokenizer: { tree: stray, source: 'tok' } })).toThrow('tok: unexpected parameters: encoder/ResBlock_0/Dense_0/kernel');

    // The shortcut conv on the wrong block (ResBlock_4 widens 32 -> 64, ResBlock_3 does not), and a stray array.
    const shortcut = (tokenizer.tree.params as FlaxTree).encoder as FlaxTree;
    const moved = edited(edited(tokenizer.tree, 'params/encoder/ResBlock_4/Conv_2', undefined), 'params/encoder/ResBlock_3/Conv_2', (shortcut.ResBlock_4 as FlaxTree).Conv_2);
    const both = edited(moved, 'params/quantizer/extra', FlaxArray.fromFloat32(new Float32Array(1), [1]));
    expect(() => convertFlaxCheckpoints({ tokenizer: { tree: both, source: 'tok' } })).toThrow(
      'tok: missing parameters: encoder/ResBlock_4/Conv_2/kernel; unexpected parameters: encoder/ResBlock_3/Conv_2/kernel, quantizer/extra',
    );

    const shape = edited(transformer.tree, 'params/Embed_0/embeddings_ln/scale', FlaxArray.fromFloat32(new Float32Array(13), [13]));
    expect(() => convertFlaxCheckpoints({ transformer: { tree: shape, source: 'tfm' } }, tiny)).toThrow('Embed_0/embeddings_ln/scale has shape [13], expected [12]');

    const ints = edited(transformer.tree, 'params/MlmLayer_0/mlm_bias/bias', new FlaxArray([22], 'int32', new Uint8Array(88)));
    expect(() => convertFlaxCheckpoints({ transformer: { tree: ints, source: 'tfm' } }, tiny)).toThrow('MlmLayer_0/mlm_bias/bias is int32, expected a float array');
  });

  it('infers sizes for one checkpoint alone, and records what the folder holds', async () => {
    const engine = await getEngine();
    expect(() => convertFlaxCheckpoints({ transformer: { tree: transformer.tree, source: 'tfm' } })).toThrow(
      /a vocabulary of 22 cannot hold a codebook of 1024.*--codebook-size/,
    );
    const tfmOnly = convertFlaxCheckpoints({ transformer: { tree: transformer.tree, source: 'tfm' } }, { codebookSize: 16 });
    expect(tfmOnly.contents).toEqual(['transformer']);
    // Without a tokenizer the official one (5 levels, /16) is assumed for the image size.
    expect([tfmOnly.config.imageSize, tfmOnly.config.numClasses, tfmOnly.config.tokenizer.codebookSize]).toEqual([64, 5, 16]);
    const dir = join(work, 'transformer-only');
    await writeModelFolder(dir, tfmOnly.config, tfmOnly.tensors);
    const loaded = await loadModelWeights(engine, dir);
    expect(loaded.contents).toEqual(['transformer']);
    await expectExact(loaded.weights, transformer);
    for (const t of loaded.weights.values()) t.dispose();
    await expect(loadMaskGIT(engine, dir)).rejects.toThrow(/holds only the transformer; the tokenizer is missing/);

    expect(() => convertFlaxCheckpoints({ tokenizer: { tree: tokenizer.tree, source: 'tok' } }, { codebookSize: 32 })).toThrow(ArgumentError);
    const tokOnly = convertFlaxCheckpoints({ tokenizer: { tree: tokenizer.tree, source: 'tok' } }, { imageSize: 32 });
    expect([tokOnly.config.imageSize, tokOnly.config.transformer.maxPositions, tokOnly.config.transformer.vocabSize]).toEqual([32, 65, 16 + 1000 + 1]);
    expect(tokOnly.contents).toEqual(['tokenizer']);

    const odd = edited(transformer.tree, 'params/Embed_0/position_embeddings/embedding', FlaxArray.fromFloat32(new Float32Array(18 * 12), [18, 12]));
    expect(() => convertFlaxCheckpoints({ transformer: { tree: odd, source: 'tfm' } }, { codebookSize: 16 })).toThrow(/18 position embeddings .*--image-size/);
  });

  it('loads a complete folder with loadMaskGIT', async () => {
    const engine = await getEngine();
    const model = convertFlaxCheckpoints({ transformer: { tree: transformer.tree, source: 'a' }, tokenizer: { tree: tokenizer.tree, source: 'b' } });
    const dir = join(work, 'complete');
    await writeModelFolder(dir, model.config, model.tensors);
    const loaded = await loadMaskGIT(engine, dir);
    expect(loaded.config.imageSize).toBe(16);
    expect(loaded.weights.size).toBe(model.tensors.length);
    loaded.dispose();
    expect(loaded.weights.size).toBe(0);
  });
});
