import { ShapeError } from '../errors.js';
import { Conv2d } from '../nn/conv2d.js';
import { GroupNorm } from '../nn/groupnorm.js';
import { ResBlock, type NormOptions } from '../nn/resblock.js';
import type { Engine } from '../tensor/engine.js';
import { cast } from '../tensor/ops/elementwise.js';
import type { FloatDType } from '../tensor/ops/conv.js';
import { avgPool2x2 } from '../tensor/ops/resample.js';
import { codebookLookup, vqNearest } from '../tensor/ops/vq.js';
import type { Tensor } from '../tensor/tensor.js';
import type { TokenizerConfig } from './config.js';
import { getWeight, levelWidths, type Weights } from './weights.js';

const norm = (c: TokenizerConfig): NormOptions => ({ groups: c.groupNormGroups, eps: c.groupNormEps });

/** Runs `blocks` in turn, freeing each intermediate; the input stays with the caller. */
function runBlocks(x: Tensor, blocks: readonly ResBlock[]): Tensor {
  let h = x;
  for (const block of blocks) {
    const next = block.forward(h);
    if (h !== x) h.dispose();
    h = next;
  }
  return h;
}

/**
 * The VQGAN encoder: conv_in; per level numResBlocks ResBlocks, then 2x2 average pooling
 * except after the last level; mid ResBlocks; GroupNorm, swish, 1x1 conv_out to the latent
 * width. Pixels [B, H, W, 3] in [0, 1] -> latents [B, H / 2^(levels-1), W / 2^(levels-1), D].
 */
export class Encoder {
  constructor(
    readonly convIn: Conv2d,
    /** Per level, its blocks. */
    readonly levels: readonly (readonly ResBlock[])[],
    readonly mid: readonly ResBlock[],
    readonly normOut: GroupNorm,
    readonly convOut: Conv2d,
  ) {}

  static fromWeights(weights: Weights, c: TokenizerConfig): Encoder {
    const p = 'tokenizer.encoder';
    const widths = levelWidths(c);
    let cin = c.filters;
    const levels = widths.map((w, level) =>
      Array.from({ length: c.numResBlocks }, (_, j) => {
        const block = ResBlock.fromWeights(weights, `${p}.down.${level}.block.${j}`, cin, w, norm(c));
        cin = w;
        return block;
      }),
    );
    const mid = Array.from({ length: c.numResBlocks }, (_, j) => ResBlock.fromWeights(weights, `${p}.mid.block.${j}`, cin, cin, norm(c)));
    return new Encoder(
      Conv2d.fromWeights(weights, `${p}.conv_in`, 3, 3, c.filters, false),
      levels,
      mid,
      GroupNorm.fromWeights(weights, `${p}.norm_out`, cin, c.groupNormGroups, c.groupNormEps),
      Conv2d.fromWeights(weights, `${p}.conv_out`, 1, cin, c.embeddingDim, true),
    );
  }

  forward(pixels: Tensor): Tensor {
    let h = this.convIn.forward(pixels);
    this.levels.forEach((blocks, level) => {
      const next = runBlocks(h, blocks);
      if (next !== h) h.dispose();
      h = next;
      if (level < this.levels.length - 1) {
        const pooled = avgPool2x2(h as Tensor<FloatDType>);
        h.dispose();
        h = pooled;
      }
    });
    const mid = runBlocks(h, this.mid);
    if (mid !== h) h.dispose();
    const normed = this.normOut.forward(mid, true);
    mid.dispose();
    const out = this.convOut.forward(normed);
    normed.dispose();
    return out;
  }
}

/**
 * The VQGAN decoder: conv_in (3x3, bias); mid ResBlocks; levels from the deepest up, each
 * with numResBlocks ResBlocks and (except level 0) nearest x2 upsampling + 3x3 conv with
 * bias (fused: the conv reads its input through the upsampling); GroupNorm, swish, conv_out
 * (3x3, bias) to RGB. Latents [B, h, w, D] -> pixels [B, h * 2^(levels-1), ..., 3].
 */
export class Decoder {
  constructor(
    readonly convIn: Conv2d,
    readonly mid: readonly ResBlock[],
    /** Levels from the deepest (index 0 here = level L-1) to level 0. */
    readonly levels: readonly { blocks: readonly ResBlock[]; upsample: Conv2d | null }[],
    readonly normOut: GroupNorm,
    readonly convOut: Conv2d,
  ) {}

  static fromWeights(weights: Weights, c: TokenizerConfig): Decoder {
    const p = 'tokenizer.decoder';
    const widths = levelWidths(c);
    const top = widths[widths.length - 1]!;
    const mid = Array.from({ length: c.numResBlocks }, (_, j) => ResBlock.fromWeights(weights, `${p}.mid.block.${j}`, top, top, norm(c)));
    let cin = top;
    const levels = [];
    for (let level = widths.length - 1; level >= 0; level--) {
      const w = widths[level]!;
      const blocks = Array.from({ length: c.numResBlocks }, (_, j) => {
        const block = ResBlock.fromWeights(weights, `${p}.up.${level}.block.${j}`, cin, w, norm(c));
        cin = w;
        return block;
      });
      levels.push({ blocks, upsample: level > 0 ? Conv2d.fromWeights(weights, `${p}.up.${level}.upsample`, 3, w, w, true) : null });
    }
    return new Decoder(
      Conv2d.fromWeights(weights, `${p}.conv_in`, 3, c.embeddingDim, top, true),
      mid,
      levels,
      GroupNorm.fromWeights(weights, `${p}.norm_out`, cin, c.groupNormGroups, c.groupNormEps),
      Conv2d.fromWeights(weights, `${p}.conv_out`, 3, cin, 3, true),
    );
  }

  /** `clip` clamps the output to [0, 1] (fused into the last conv). */
  forward(latents: Tensor, options: { clip?: boolean } = {}): Tensor {
    let h = this.convIn.forward(latents);
    const mid = runBlocks(h, this.mid);
    if (mid !== h) h.dispose();
    h = mid;
    for (const { blocks, upsample } of this.levels) {
      const next = runBlocks(h, blocks);
      if (next !== h) h.dispose();
      h = next;
      if (upsample) {
        const up = upsample.forward(h, { upsample: true });
        h.dispose();
        h = up;
      }
    }
    const normed = this.normOut.forward(h, true);
    h.dispose();
    const out = this.convOut.forward(normed, options.clip ? { clamp: [0, 1] } : {});
    normed.dispose();
    return out;
  }
}

/** Nearest-code quantization and codebook lookup (no pre/post-quantization convs, as officially). */
export class VectorQuantizer {
  readonly codebookSize: number;
  readonly dim: number;

  constructor(readonly codebook: Tensor) {
    [this.codebookSize, this.dim] = codebook.shape as [number, number];
  }

  static fromWeights(weights: Weights, c: TokenizerConfig): VectorQuantizer {
    return new VectorQuantizer(getWeight(weights, 'tokenizer.quantizer.codebook', [c.codebookSize, c.embeddingDim]));
  }

  /** latents [B, h, w, D] -> token ids i32 [B, h * w] (nearest by |a|^2 - 2ab + |b|^2, ties to the lowest id). */
  quantize(latents: Tensor): Tensor<'i32'> {
    const [B, h, w] = latents.shape as [number, number, number];
    const tokens = vqNearest(latents as Tensor<FloatDType>, this.codebook as Tensor<FloatDType>);
    const flat = tokens.reshape([B, h * w]);
    tokens.dispose();
    return flat;
  }

  /** token ids [B, h, w] -> latents [B, h, w, D] (the codebook rows). */
  lookup(tokens: Tensor<'i32'>): Tensor {
    return codebookLookup(tokens, this.codebook as Tensor<FloatDType>);
  }
}

/**
 * The official MaskGIT VQGAN tokenizer: pixels in [0, 1] <-> token grids. Built from a
 * weight map with the names of tokenizerParams (src/maskgit/weights.ts); the storage dtype
 * of the weights (f32 or f16) is the dtype of the activations, pixels are f32 in and out.
 */
export class VQGANTokenizer {
  /** Spatial downsampling factor: 2^(levels - 1). */
  readonly downsample: number;

  constructor(
    readonly config: TokenizerConfig,
    readonly encoder: Encoder,
    readonly quantizer: VectorQuantizer,
    readonly decoder: Decoder,
  ) {
    this.downsample = 2 ** (config.channelMultipliers.length - 1);
  }

  static fromWeights(weights: Weights, config: TokenizerConfig): VQGANTokenizer {
    return new VQGANTokenizer(config, Encoder.fromWeights(weights, config), VectorQuantizer.fromWeights(weights, config), Decoder.fromWeights(weights, config));
  }

  get engine(): Engine {
    return this.quantizer.codebook.engine;
  }

  get dtype(): FloatDType {
    return this.quantizer.codebook.dtype as FloatDType;
  }

  /** pixels [B, H, W, 3] in [0, 1] (H, W multiples of the downsampling factor) -> token ids i32 [B, (H/f) * (W/f)]. */
  encode(pixels: Tensor): Tensor<'i32'> {
    const [, H, W, C] = pixels.shape as [number, number, number, number];
    const f = this.downsample;
    if (pixels.rank !== 4 || C !== 3 || H % f !== 0 || W % f !== 0 || H === 0 || W === 0) {
      throw new ShapeError(`encode: pixels must be [B, H, W, 3] with H and W positive multiples of ${f}, got [${pixels.shape.join(', ')}]`);
    }
    if (pixels.dtype !== 'f32' && pixels.dtype !== 'f16') throw new ShapeError(`encode: pixels must be f32 or f16, got ${pixels.dtype}`);
    return this.engine.tidy(() => {
      const input = pixels.dtype === this.dtype ? pixels : cast(pixels, this.dtype);
      return this.quantizer.quantize(this.encoder.forward(input));
    });
  }

  /** token ids i32 [B, h * w] (a square grid) or [B, h, w] -> pixels f32 [B, h*f, w*f, 3], clipped to [0, 1]. */
  decode(tokens: Tensor<'i32'>): Tensor<'f32'> {
    if (tokens.dtype !== 'i32') throw new ShapeError(`decode: tokens must be i32, got ${tokens.dtype}`);
    let grid: [number, number, number];
    if (tokens.rank === 3) grid = tokens.shape as [number, number, number];
    else if (tokens.rank === 2 && Number.isInteger(Math.sqrt(tokens.shape[1]!))) {
      const side = Math.sqrt(tokens.shape[1]!);
      grid = [tokens.shape[0]!, side, side];
    } else throw new ShapeError(`decode: tokens must be [B, h * w] with a square number of tokens, or [B, h, w]; got [${tokens.shape.join(', ')}]`);
    return this.engine.tidy(() => {
      const ids = tokens.reshape(grid);
      const pixels = this.decoder.forward(this.quantizer.lookup(ids), { clip: true });
      return (pixels.dtype === 'f32' ? pixels : cast(pixels, 'f32')) as Tensor<'f32'>;
    });
  }
}
