/**
 * The autoregressive baseline MaskGIT is measured against (VQGAN's transformer sampler), on
 * the same engine: the same architecture and parameters as the MaskGIT transformer, with
 * causal attention; the class token first, then the image tokens in raster order, one per
 * step. Two ways to run it:
 *  - uncached: each step runs the causal transformer over the whole prefix so far and samples
 *    from the last position's logits (what VQGAN's sampler does);
 *  - cached: a preallocated KV cache per layer; each step computes q, k and v of the new token
 *    only, appends k and v to the cache and attends over the cache's first `position + 1` rows
 *    (ops.attentionQKV with kvLength).
 * The draw is sampleStep's (kernels/sample.wgsl) on a one-position sequence, with the step
 * index as its counter: temperature 0 is the argmax; otherwise Gumbel-max on the same Philox
 * streams as MaskGIT's decode.
 */
import { checkInteger, describeValue, isPlainObject } from '../arguments.js';
import { ArgumentError, ShapeError } from '../errors.js';
import { TransformerLayer } from '../nn/transformer-layer.js';
import { dtypeSize } from '../tensor/dtype.js';
import { Engine } from '../tensor/engine.js';
import { attentionQKV, embedding } from '../tensor/ops/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { imageTokenCount, type TransformerConfig } from './config.js';
import type { DecodeConfig } from './decode.js';
import { referenceSample, type ReferenceOptions } from './reference.js';
import { imageSeeds } from './rng.js';
import { sampleStep } from './sample.js';
import { BidirectionalTransformer } from './transformer.js';
import type { Weights } from './weights.js';

export interface CausalForwardOptions {
  /** Logits of the first `logitsColumns` vocabulary entries only (the codebook). Default: all. */
  logitsColumns?: number;
  /** Logits of the last position only: [B, 1, columns]. Default false. */
  lastOnly?: boolean;
}

/** Per layer, keys and values [B, capacity, hidden] of the positions decoded so far. */
export class KVCache {
  constructor(
    readonly keys: Tensor[],
    readonly values: Tensor[],
    readonly batch: number,
    readonly capacity: number,
  ) {}

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t.dispose();
  }
}

/**
 * The MaskGIT transformer's architecture with causal self-attention (query i sees keys
 * j <= i). Reads the same parameters (transformerParams) as BidirectionalTransformer: the
 * embedding, the head and the layers' projections are shared modules; only attention differs.
 */
export class CausalTransformer {
  readonly config: TransformerConfig;
  /** The bidirectional model over the same weights: its embedding and head are used as they are. */
  readonly base: BidirectionalTransformer;
  readonly layers: TransformerLayer[];

  constructor(weights: Weights, config: TransformerConfig) {
    this.config = config;
    this.base = new BidirectionalTransformer(weights, config);
    this.layers = Array.from({ length: config.numLayers }, (_, i) => new TransformerLayer(weights, `transformer.layers.${i}`, config, { causal: true }));
  }

  get engine(): Engine {
    return this.base.embed.word.engine;
  }

  private columns(options: { logitsColumns?: number }): number {
    const columns = options.logitsColumns ?? this.config.vocabSize;
    if (!Number.isInteger(columns) || columns < 1 || columns > this.config.vocabSize) {
      throw new ShapeError(`causal transformer: logitsColumns must be an integer in [1, ${this.config.vocabSize}], got ${columns}`);
    }
    return columns;
  }

  /**
   * tokens i32 [B, L] (class token first) -> logits [B, L, columns], or [B, 1, columns] of the
   * last position with `lastOnly`. Causal: position i's logits depend on tokens 0..i only.
   */
  forward(tokens: Tensor, options: CausalForwardOptions = {}): Tensor {
    const engine = tokens.engine;
    const columns = this.columns(options);
    if (tokens.dtype !== 'i32' || tokens.rank !== 2) throw new ShapeError(`causal transformer: tokens must be i32 [batch, length], got ${tokens.dtype} [${tokens.shape.join(', ')}]`);
    const [batch, length] = tokens.shape as [number, number];
    if (length < 1 || length > this.config.maxPositions) throw new ShapeError(`causal transformer: ${length} tokens per sequence; 1 to ${this.config.maxPositions} fit the learned positions`);
    const hidden = this.base.hiddenStates(tokens, this.layers);
    const logits = engine.tidy(() => {
      if (!options.lastOnly) return this.base.logits(hidden, columns);
      const H = this.config.hiddenSize;
      const bytes = H * dtypeSize(hidden.dtype);
      const last = engine.empty([batch, 1, H], hidden.dtype);
      for (let b = 0; b < batch; b++) engine.copy(hidden, (b * length + length - 1) * bytes, last, b * bytes, bytes);
      return this.base.logits(last, columns);
    });
    hidden.dispose();
    return logits;
  }

  /** An empty KV cache for `batch` sequences of up to `capacity` positions (default maxPositions). */
  createCache(batch: number, capacity = this.config.maxPositions): KVCache {
    checkInteger('batch', batch, 1);
    checkInteger('capacity', capacity, 1, this.config.maxPositions);
    const engine = this.engine;
    const dtype = this.base.embed.word.dtype;
    const H = this.config.hiddenSize;
    if ((H * dtypeSize(dtype)) % 4 !== 0) throw new ShapeError(`KV cache: rows of ${H} ${dtype} values are not a multiple of 4 bytes; use f32 weights`);
    const make = () => Array.from({ length: this.config.numLayers }, () => engine.empty([batch, capacity, H], dtype));
    return new KVCache(make(), make(), batch, capacity);
  }

  /**
   * One cached step: the token at `position` (i32 [B, 1]) -> logits [B, 1, columns] for the
   * next position. Appends this position's keys and values to the cache; attends over the
   * cache's first position + 1 rows. Only the new token's projections are computed.
   */
  step(cache: KVCache, token: Tensor, position: number, options: { logitsColumns?: number } = {}): Tensor {
    const engine = token.engine;
    const columns = this.columns(options);
    const B = cache.batch;
    if (token.dtype !== 'i32' || token.rank !== 2 || token.shape[0] !== B || token.shape[1] !== 1) {
      throw new ShapeError(`causal step: token must be i32 [${B}, 1], got ${token.dtype} [${token.shape.join(', ')}]`);
    }
    checkInteger('position', position, 0, cache.capacity - 1);
    const H = this.config.hiddenSize;
    const dtype = this.base.embed.word.dtype;
    const row = H * dtypeSize(dtype);
    let x = engine.tidy(() => {
      const positionRow = engine.empty([1, H], dtype);
      engine.copy(this.base.embed.position, position * row, positionRow, 0, row);
      return this.base.embedNorm.forward(embedding(token, this.base.embed.word, positionRow));
    });
    this.layers.forEach((layer, l) => {
      const input = x;
      x = engine.tidy(() => {
        const qkv = layer.attn.qkv.forward(input); // [B, 1, 3H]: q | k | v
        const q = engine.empty([B, 1, H], dtype);
        for (let b = 0; b < B; b++) {
          engine.copy(qkv, 3 * b * row, q, b * row, row);
          engine.copy(qkv, (3 * b + 1) * row, cache.keys[l]!, (b * cache.capacity + position) * row, row);
          engine.copy(qkv, (3 * b + 2) * row, cache.values[l]!, (b * cache.capacity + position) * row, row);
        }
        const heads = attentionQKV(q, cache.keys[l]!, cache.values[l]!, { heads: this.config.numHeads, kvLength: position + 1 });
        const h = layer.attnNorm.forward(layer.attn.out.forward(heads, { residual: input }));
        const m = layer.fc1.forward(h, { activation: layer.activation });
        return layer.mlpNorm.forward(layer.fc2.forward(m, { residual: h }));
      });
      input.dispose();
    });
    const hidden = x;
    const logits = engine.tidy(() => this.base.logits(hidden, columns));
    hidden.dispose();
    return logits;
  }
}

export interface AutoregressiveOptions {
  /** One class label per image. */
  classes: readonly number[];
  /** A number: image i uses seed + i. Default 0. */
  seeds?: number | readonly number[];
  /** 0: the argmax (greedy). Default 1. */
  sampleTemperature?: number;
  topK?: number;
  topP?: number;
  /** Use the KV cache (default true); false reruns the prefix every step. */
  cache?: boolean;
  /** Image tokens to generate (default: all of them); fewer for measurements. */
  tokens?: number;
  engine?: Engine;
}

/**
 * Generates image tokens one at a time in raster order (the autoregressive baseline).
 * Returns i32 [B, tokens]: the image tokens, no class token. Everything stays on the GPU:
 * one submit per step, no readback until the caller reads the result.
 */
export async function decodeAutoregressive(model: CausalTransformer, config: DecodeConfig, options: AutoregressiveOptions): Promise<Tensor<'i32'>> {
  if (!(model instanceof CausalTransformer)) throw new ArgumentError('model', `must be a CausalTransformer, got ${describeValue(model)}`);
  if (!isPlainObject(options)) throw new ArgumentError('options', `must be an object of options, got ${describeValue(options)}`);
  const engine = options.engine ?? model.engine;
  engine.assertAlive();
  if (!Array.isArray(options.classes) || options.classes.length === 0) throw new ArgumentError('classes', `give one class label per image, got ${describeValue(options.classes)}`);
  for (const c of options.classes) checkInteger('classes', c, 0, config.numClasses - 1);
  const batch = options.classes.length;
  const n = imageTokenCount(config);
  if (n + 1 > model.config.maxPositions) throw new ArgumentError('config', `${n} image tokens + the class token exceed the transformer's ${model.config.maxPositions} positions`);
  const count = options.tokens ?? n;
  checkInteger('tokens', count, 1, n);
  const temperature = options.sampleTemperature ?? 1;
  if (typeof temperature !== 'number' || !(temperature >= 0) || !Number.isFinite(temperature)) throw new ArgumentError('sampleTemperature', `must be a finite number >= 0, got ${describeValue(temperature)}`);
  const topK = options.topK ?? 0;
  const topP = options.topP ?? 1;
  if (!Number.isInteger(topK) || topK < 0) throw new ArgumentError('topK', `must be an integer >= 0 (0: off), got ${describeValue(topK)}`);
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) throw new ArgumentError('topP', `must be in (0, 1] (1: off), got ${describeValue(topP)}`);
  if (options.seeds !== undefined && typeof options.seeds !== 'number' && (!Array.isArray(options.seeds) || options.seeds.length !== batch)) {
    throw new ArgumentError('seeds', `give a number or one seed per image (${batch})`);
  }
  for (const s of typeof options.seeds === 'number' ? [options.seeds] : (options.seeds ?? [])) {
    if (!Number.isSafeInteger(s)) throw new ArgumentError('seeds', `seeds must be integers (taken mod 2^32), got ${describeValue(s)}`);
  }
  const cached = options.cache ?? true;
  const C = config.codebookSize;
  const L = n + 1;
  const classTokens = Int32Array.from(options.classes, (c) => c + C);
  const initial = new Int32Array(batch * L).fill(config.maskTokenId);
  classTokens.forEach((t, b) => (initial[b * L] = t));
  const sequence = engine.tensor(initial, [batch, L], 'i32');
  const unknown = engine.tensor(new Int32Array(batch).fill(config.maskTokenId), [batch, 1], 'i32');
  const seeds = engine.tensor(imageSeeds(options.seeds, batch), [batch], 'u32');
  const out = { sampled: engine.empty([batch, 1], 'i32'), confidence: engine.empty([batch, 1], 'f32') };
  const first = engine.tensor(classTokens, [batch, 1], 'i32');
  const cache = cached ? model.createCache(batch, Math.min(model.config.maxPositions, count + 1)) : null;
  try {
    for (let t = 0; t < count; t++) {
      engine.assertAlive();
      engine.tidy(() => {
        let logits: Tensor;
        if (cache) logits = model.step(cache, t === 0 ? first : out.sampled, t, { logitsColumns: C });
        else {
          const prefix = engine.empty([batch, t + 1], 'i32');
          for (let b = 0; b < batch; b++) engine.copy(sequence, b * L * 4, prefix, b * (t + 1) * 4, (t + 1) * 4);
          logits = model.forward(prefix, { logitsColumns: C, lastOnly: true });
        }
        sampleStep(logits, unknown, seeds, { codebookSize: C, maskTokenId: config.maskTokenId, step: t, temperature, choiceScale: 0, topK, topP }, out);
      });
      for (let b = 0; b < batch; b++) engine.copy(out.sampled, b * 4, sequence, (b * L + t + 1) * 4, 4);
      engine.flush();
    }
    const images = engine.empty([batch, count], 'i32');
    for (let b = 0; b < batch; b++) engine.copy(sequence, (b * L + 1) * 4, images, b * count * 4, count * 4);
    return images;
  } finally {
    cache?.dispose();
    for (const t of [sequence, unknown, seeds, out.sampled, out.confidence, first]) t.dispose();
  }
}

/** Logits of the last position of each prefix: tokens [B, length] (host) -> [B, vocab]. */
export type PrefixLogitsFn = (tokens: Int32Array, batch: number, length: number) => Float32Array | Promise<Float32Array>;

/**
 * Autoregressive decoding in plain TypeScript over a logits function: the oracle of
 * decodeAutoregressive. Each step draws image token t from the last position's logits with
 * referenceSample's rules (argmax at temperature 0, else Gumbel-max on the step-t streams).
 * Returns [B, tokens] image tokens.
 */
export async function referenceAutoregressive(
  logitsFor: PrefixLogitsFn,
  classTokens: readonly number[],
  count: number,
  vocab: number,
  options: Pick<ReferenceOptions, 'codebookSize' | 'maskTokenId' | 'seeds' | 'sampleTemperature' | 'topK' | 'topP'>,
): Promise<Int32Array> {
  const batch = classTokens.length;
  const sequences = classTokens.map((c) => [c]);
  const unknown = new Int32Array(batch).fill(options.maskTokenId);
  for (let t = 0; t < count; t++) {
    const prefix = Int32Array.from(sequences.flat());
    const logits = await logitsFor(prefix, batch, t + 1);
    const { sampled } = referenceSample(logits, unknown, batch, 1, vocab, t, { ...options, steps: count, choiceScale: 0 });
    sequences.forEach((s, b) => s.push(sampled[b]!));
  }
  return Int32Array.from(sequences.flatMap((s) => s.slice(1)));
}
