import type * as tfc from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  initialValues,
  officialConfig,
  randomWeights,
  ResBlock,
  seededUniform,
  tokenizerParams,
  VQGANTokenizer,
  type Engine,
  type Tensor,
  type TokenizerConfig,
} from '../src/node.js';
import { expectClose, maxAbsError } from './helpers/compare.js';
import { getEngine } from './helpers/engine.js';
import { oracle } from './helpers/oracle.js';
import { randomInts, uniform } from './helpers/random.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

type Tf = typeof tfc;

/** A small tokenizer with every feature of the official one: shortcuts, pooling, upsampling, several blocks. */
const TINY: TokenizerConfig = {
  filters: 8,
  channelMultipliers: [1, 2, 2],
  numResBlocks: 2,
  embeddingDim: 4,
  codebookSize: 16,
  groupNormGroups: 4,
  groupNormEps: 1e-6,
};

/**
 * Host values of every tokenizer parameter: initialValues (the same stream randomWeights
 * uses), with norm scales and all biases made random too so that no affine path is idle.
 */
function hostWeights(config: TokenizerConfig, seed: number): Map<string, { values: Float32Array; shape: readonly number[] }> {
  const random = seededUniform(seed);
  const out = new Map<string, { values: Float32Array; shape: readonly number[] }>();
  for (const spec of tokenizerParams(config)) {
    let values = initialValues(spec, random);
    if (spec.name.endsWith('.scale')) values = values.map(() => 0.5 + random());
    else if (spec.name.endsWith('.bias')) values = values.map(() => 0.4 * (random() - 0.5));
    out.set(spec.name, { values, shape: spec.shape });
  }
  return out;
}

function upload(engine: Engine, host: ReturnType<typeof hostWeights>): Map<string, Tensor> {
  return new Map([...host].map(([name, { values, shape }]) => [name, engine.keep(engine.tensor(values, shape))]));
}

/** The same network composed from tfjs-core CPU ops (conv2d, moments, avgPool, resizeNearestNeighbor). */
function referenceNetwork(tf: Tf, host: ReturnType<typeof hostWeights>, c: TokenizerConfig) {
  const W = (name: string) => {
    const w = host.get(name);
    if (!w) throw new Error(`missing ${name}`);
    return tf.tensor(w.values, w.shape as number[]);
  };
  const swish = (x: tfc.Tensor) => tf.mul(x, tf.sigmoid(x));
  const norm = (x: tfc.Tensor4D, prefix: string): tfc.Tensor4D => {
    const [B, H, Wd, C] = x.shape;
    const g = c.groupNormGroups;
    const grouped = tf.reshape(x, [B, H, Wd, g, C / g]);
    const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
    const normed = tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, c.groupNormEps))), x.shape);
    return swish(tf.add(tf.mul(normed, W(`${prefix}.scale`)), W(`${prefix}.bias`))) as tfc.Tensor4D;
  };
  const conv = (x: tfc.Tensor4D, prefix: string, bias: boolean): tfc.Tensor4D => {
    const y = tf.conv2d(x, W(`${prefix}.weight`) as tfc.Tensor4D, 1, 'same');
    return bias ? tf.add(y, W(`${prefix}.bias`)) : y;
  };
  const block = (x: tfc.Tensor4D, prefix: string, cin: number, cout: number): tfc.Tensor4D => {
    let h = conv(norm(x, `${prefix}.norm1`), `${prefix}.conv1`, false);
    h = conv(norm(h, `${prefix}.norm2`), `${prefix}.conv2`, false);
    return cin === cout ? tf.add(h, x) : tf.add(h, conv(h, `${prefix}.shortcut`, false)); // shortcut on the conv output
  };
  const widths = c.channelMultipliers.map((m) => c.filters * m);
  const encode = (pixels: tfc.Tensor4D): tfc.Tensor4D => {
    let h = conv(pixels, 'tokenizer.encoder.conv_in', false);
    let cin = c.filters;
    widths.forEach((w, level) => {
      for (let j = 0; j < c.numResBlocks; j++, cin = w) h = block(h, `tokenizer.encoder.down.${level}.block.${j}`, cin, w);
      if (level < widths.length - 1) h = tf.avgPool(h, 2, 2, 'valid');
    });
    for (let j = 0; j < c.numResBlocks; j++) h = block(h, `tokenizer.encoder.mid.block.${j}`, cin, cin);
    return conv(norm(h, 'tokenizer.encoder.norm_out'), 'tokenizer.encoder.conv_out', true);
  };
  const decode = (z: tfc.Tensor4D): tfc.Tensor4D => {
    let cin = widths[widths.length - 1]!;
    let h = conv(z, 'tokenizer.decoder.conv_in', true);
    for (let j = 0; j < c.numResBlocks; j++) h = block(h, `tokenizer.decoder.mid.block.${j}`, cin, cin);
    for (let level = widths.length - 1; level >= 0; level--) {
      const w = widths[level]!;
      for (let j = 0; j < c.numResBlocks; j++, cin = w) h = block(h, `tokenizer.decoder.up.${level}.block.${j}`, cin, w);
      if (level > 0) h = conv(tf.image.resizeNearestNeighbor(h, [2 * h.shape[1], 2 * h.shape[2]]), `tokenizer.decoder.up.${level}.upsample`, true);
    }
    return conv(norm(h, 'tokenizer.decoder.norm_out'), 'tokenizer.decoder.conv_out', true);
  };
  return { encode, decode };
}

describe('VQGAN tokenizer (oracle: the same network from tfjs-core CPU ops)', () => {
  it('encoder and decoder of a tiny config match the composed oracle on the same random weights', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const tf = await oracle();
    const host = hostWeights(TINY, 7);
    const tokenizer = VQGANTokenizer.fromWeights(upload(engine, host), TINY);
    const ref = referenceNetwork(tf, host, TINY);
    const [B, H, W] = [2, 16, 12];
    const pixels = uniform(B * H * W * 3, 11, 0, 1);
    const latents = tokenizer.encoder.forward(engine.tensor(pixels, [B, H, W, 3]));
    expect(latents.shape).toEqual([B, H / 4, W / 4, TINY.embeddingDim]);
    const refLatents = tf.tidy(() => ref.encode(tf.tensor4d(pixels, [B, H, W, 3])).dataSync());
    const encoderError = maxAbsError(await latents.read(), refLatents).error;
    // f32 through 12 convs and 11 GroupNorms, each summing in another order than tfjs: a
    // few ulps per layer on O(1) activations (measured here: 1.4e-6 encoder, 4.4e-6 decoder).
    const tol = { atol: 5e-5, rtol: 1e-5 };
    expectClose(await latents.read(), refLatents, tol, 'encoder latents');

    const z = uniform(B * 4 * 3 * TINY.embeddingDim, 12, -1, 1);
    const out = tokenizer.decoder.forward(engine.tensor(z, [B, 4, 3, TINY.embeddingDim]));
    const refOut = tf.tidy(() => ref.decode(tf.tensor4d(z, [B, 4, 3, TINY.embeddingDim])).dataSync());
    const decoderError = maxAbsError(await out.read(), refOut).error;
    expectClose(await out.read(), refOut, tol, 'decoder output');
    const clipped = await tokenizer.decoder.forward(engine.tensor(z, [B, 4, 3, TINY.embeddingDim]), { clip: true }).read();
    expectClose(clipped, refOut.map((v) => Math.min(1, Math.max(0, v))), tol, 'clipped decoder output');
    console.log(`tiny tokenizer vs oracle: encoder max abs error ${encoderError.toExponential(2)}, decoder ${decoderError.toExponential(2)}`);

    // encode() is the encoder followed by the nearest code; decode() the lookup, decoder and clip.
    const tokens = tokenizer.encode(engine.tensor(pixels, [B, H, W, 3]));
    expect(tokens.shape).toEqual([B, 12]);
    const ids = await tokens.read();
    expect(ids.every((t) => t >= 0 && t < TINY.codebookSize)).toBe(true);
    const decoded = tokenizer.decode(tokens.reshape([B, H / 4, W / 4]));
    expect(decoded.shape).toEqual([B, H, W, 3]);
    expect(decoded.dtype).toBe('f32');
  });

  it('round-trips tokens through pixels with a well-separated codebook', { timeout: HANG_GUARD_MS }, async () => {
    // One level pair (x2 up/down), widths equal to the filters (no shortcut), D = 3.
    // Weights: every conv has only its centre tap, on the diagonal (a per-pixel, per-channel
    // map); the blocks' conv2 is zero, so each block returns its input; GroupNorm has one
    // channel per group, scale 1 and bias 3 (swish is increasing above -1.28); the output
    // convs map swish(3 + z) back around 0.5. The codebook is the 8 corners of {0.2, 0.8}^3.
    // Then each stage is increasing per channel: a channel that is 0.8 where another pixel
    // has 0.2 stays the larger one through decoder, clip, pooling (of identical 2x2 blocks)
    // and encoder, and GroupNorm turns the two values of a channel into -a and +b around 0
    // in both networks. So every latent channel ends on the code's side of 0.5, and the
    // nearest corner is the code itself. It needs each channel to take both values in each
    // image (a constant channel normalises to exactly 0.5, a tie): the grid holds every code.
    const engine = await getEngine();
    const c: TokenizerConfig = { filters: 4, channelMultipliers: [1, 1], numResBlocks: 1, embeddingDim: 3, codebookSize: 8, groupNormGroups: 4, groupNormEps: 1e-6 };
    const swish3 = 3 / (1 + Math.exp(-3));
    const values = new Map<string, Float32Array>();
    for (const spec of tokenizerParams(c)) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      const v = new Float32Array(size);
      const leaf = spec.name.slice(spec.name.lastIndexOf('.') + 1);
      if (spec.name.endsWith('codebook')) {
        for (let k = 0; k < 8; k++) for (let d = 0; d < 3; d++) v[k * 3 + d] = (k >> d) & 1 ? 0.8 : 0.2;
      } else if (leaf === 'scale') v.fill(1);
      else if (leaf === 'bias') {
        if (/norm/.test(spec.name)) v.fill(3);
        else if (spec.name.includes('decoder.conv_out')) v.fill(0.5 - 0.04 * swish3);
        else if (spec.name.includes('encoder.conv_out')) v.fill(0.5 - 0.1 * swish3);
      } else if (!/conv2/.test(spec.name)) {
        // Centre tap, diagonal: weight[centre, centre, i, i].
        const [kh, kw, cin, cout] = spec.shape as [number, number, number, number];
        const gain = spec.name.includes('decoder.conv_out') ? 0.04 : spec.name.includes('encoder.conv_out') ? 0.1 : 1;
        const centre = (Math.floor(kh / 2) * kw + Math.floor(kw / 2)) * cin * cout;
        for (let i = 0; i < Math.min(cin, cout); i++) v[centre + i * cout + i] = gain;
      }
      values.set(spec.name, v);
    }
    const weights = new Map(tokenizerParams(c).map((s) => [s.name, engine.keep(engine.tensor(values.get(s.name)!, s.shape))]));
    const tokenizer = VQGANTokenizer.fromWeights(weights, c);
    const [B, h, w] = [3, 5, 7];
    const ids = randomInts(B * h * w, 21, 0, 8);
    for (let b = 0; b < B; b++) for (let k = 0; k < 8; k++) ids[b * h * w + ((k * 4 + b) % (h * w))] = k; // every code in every image
    const tokens = engine.tensor(ids, [B, h * w], 'i32');
    // [B, h*w] is not square here: pass the grid shape.
    const pixels = tokenizer.decode(tokens.reshape([B, h, w]));
    expect(pixels.shape).toEqual([B, 2 * h, 2 * w, 3]);
    const pv = await pixels.read();
    expect(pv.every((v) => v > 0.05 && v < 0.95)).toBe(true); // inside [0, 1]: the clip is not what separates codes
    const back = tokenizer.encode(pixels);
    expect(back.shape).toEqual([B, h * w]);
    expect([...(await back.read())]).toEqual([...ids]);
  });

  it('repeated decodes and encodes do not grow GPU memory', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const tokenizer = VQGANTokenizer.fromWeights(upload(engine, hostWeights(TINY, 3)), TINY);
    const tokens = engine.tensor(randomInts(2 * 16, 4, 0, 16), [2, 16], 'i32');
    const cycle = async () => {
      const pixels = tokenizer.decode(tokens);
      const again = tokenizer.encode(pixels);
      await again.read();
      pixels.dispose();
      again.dispose();
    };
    await cycle();
    const before = engine.stats().pool;
    for (let i = 0; i < 3; i++) await cycle();
    const after = engine.stats().pool;
    expect(after.bytesInUse).toBe(before.bytesInUse);
    expect(after.allocations).toBe(before.allocations); // the pool serves every step: no new GPU buffers
  });

  it('f16 weights and activations follow the f32 tokenizer', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    if (!engine.hasF16) return;
    const host = hostWeights(TINY, 13);
    const f32 = VQGANTokenizer.fromWeights(upload(engine, host), TINY);
    const f16 = VQGANTokenizer.fromWeights(new Map([...host].map(([name, { values, shape }]) => [name, engine.keep(engine.tensor(values, shape, 'f16'))])), TINY);
    expect(f16.dtype).toBe('f16');
    const tokens = engine.tensor(randomInts(2 * 16, 14, 0, 16), [2, 16], 'i32');
    const a = await f32.decode(tokens).read();
    const half = f16.decode(tokens);
    expect(half.dtype).toBe('f32');
    const b = await half.read();
    const error = maxAbsError(b, a).error;
    console.log(`tiny tokenizer, f16 vs f32 decode: max abs error ${error.toExponential(2)}`);
    // Weights and every activation rounded to f16 (2^-11 relative) through 24 layers, with
    // GroupNorm renormalising each time: errors of a few 1e-3 on pixels in [0, 1].
    expect(error).toBeLessThan(2e-2);
    const pixels = engine.tensor(uniform(2 * 16 * 16 * 3, 15, 0, 1), [2, 16, 16, 3]);
    expect((await f16.encode(pixels).read()).every((t) => t >= 0 && t < 16)).toBe(true);
  });

  it('checks its weights and inputs', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const weights = upload(engine, hostWeights(TINY, 5));
    const missing = new Map(weights);
    missing.delete('tokenizer.decoder.up.0.block.0.shortcut.weight');
    expect(() => VQGANTokenizer.fromWeights(missing, TINY)).toThrow(CheckpointError);
    const tokenizer = VQGANTokenizer.fromWeights(weights, TINY);
    expect(() => tokenizer.encode(engine.tensor(new Float32Array(2 * 6 * 8 * 3), [2, 6, 8, 3]))).toThrow(/multiples of 4/);
    expect(() => tokenizer.decode(engine.tensor(new Int32Array(6), [1, 6], 'i32'))).toThrow(/square/);
    expect(tokenizer.decoder.levels[0]!.blocks[0]).toBeInstanceOf(ResBlock);
  });

  it('the official-size tokenizer (128, [1,1,2,2,4], 2 blocks, 256, 1024) runs', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const config = officialConfig().tokenizer;
    const weights = randomWeights(engine, tokenizerParams(config), { seed: 1 });
    const tokenizer = VQGANTokenizer.fromWeights(weights, config);
    const tokens = engine.tensor(randomInts(4, 9, 0, 1024), [1, 4], 'i32');
    const pixels = tokenizer.decode(tokens);
    expect(pixels.shape).toEqual([1, 32, 32, 3]);
    const values = await pixels.read();
    expect(values.every((v) => v >= 0 && v <= 1)).toBe(true);
    const back = tokenizer.encode(pixels);
    expect(back.shape).toEqual([1, 4]);
    expect((await back.read()).every((t) => t >= 0 && t < 1024)).toBe(true);
    // Its convs read through pooled textures: a second round allocates no buffer and no texture.
    const round = async () => {
      engine.tidy(() => void tokenizer.encode(tokenizer.decode(tokens)));
      await engine.sync();
    };
    await round();
    const before = engine.stats();
    await round();
    const after = engine.stats();
    expect(after.pool.allocations).toBe(before.pool.allocations);
    expect(after.textures.allocations).toBe(before.textures.allocations);
    expect(after.textures.bytesInUse).toBe(0);
    for (const t of weights.values()) t.dispose();
  });
});
