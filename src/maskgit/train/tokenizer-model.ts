import { ArgumentError, ShapeError } from '../../errors.js';
import { constant, parameter, type Variable } from '../../tensor/autograd.js';
import type { Engine } from '../../tensor/engine.js';
import { avgPool2x2, conv2d, groupNorm } from '../../tensor/grad/conv.js';
import { vectorQuantize, type VectorQuantized } from '../../tensor/grad/vq.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { TokenizerConfig } from '../config.js';
import { initialValues, seededUniform } from '../init.js';
import { checkWeights, encoderParams, levelWidths, tokenizerParams } from '../weights.js';

export const CODEBOOK_PARAM = 'tokenizer.quantizer.codebook';

/** What one training forward pass produced (Variables belong to the autograd graph). */
export interface TokenizerForward extends VectorQuantized {
  /** The encoder's outputs z [B, h, w, D]. */
  latents: Variable;
  /** The decoder's output from z_q [B, H, W, 3], not clipped. */
  reconstruction: Variable;
  /** The input of the decoder's output conv (swish(GroupNorm(h))): the adaptive adversarial weight needs it. */
  decoderFeatures: Variable;
}

/**
 * The VQGAN tokenizer of src/maskgit/tokenizer.ts built from differentiable ops over the same
 * parameter names (tokenizerParams), so that a trained checkpoint loads into VQGANTokenizer
 * unchanged. The same fused kernels run in the same order as in inference (residual adds in
 * the conv epilogues, the shortcut on the block's conv output, swish fused into GroupNorm,
 * upsampling read by the conv): the forward values are the inference tokenizer's, bit for bit.
 * Every parameter but the codebook is a Variable for the optimizer; the codebook is a plain
 * f32 tensor learned by EMA (maskgit/train/codebook.ts). With `frozenEncoder` the encoder's
 * parameters are constants: nothing is recorded for its backward, and only the decoder trains.
 */
export class TrainableTokenizer {
  readonly engine: Engine;
  /** Trainable parameters (all but the codebook, and but the encoder when it is frozen), by engine name, in tokenizerParams order. */
  readonly params: Map<string, Variable>;
  /** [K, D] f32. */
  readonly codebook: Tensor;
  /** Every parameter but the codebook, trainable or frozen. */
  private readonly variables = new Map<string, Variable>();

  constructor(
    readonly config: TokenizerConfig,
    weights: ReadonlyMap<string, Tensor>,
    options: { frozenEncoder?: boolean } = {},
  ) {
    checkWeights(weights, tokenizerParams(config));
    const frozen = new Set(options.frozenEncoder ? encoderParams(config).map((spec) => spec.name) : []);
    this.params = new Map();
    for (const spec of tokenizerParams(config)) {
      const t = weights.get(spec.name)!;
      if (t.dtype !== 'f32') throw new ArgumentError('weights', `${spec.name} is ${t.dtype}; training runs in f32`);
      if (spec.name === CODEBOOK_PARAM) continue;
      const v = frozen.has(spec.name) ? constant(t) : parameter(t);
      this.variables.set(spec.name, v);
      if (!frozen.has(spec.name)) this.params.set(spec.name, v);
    }
    this.codebook = weights.get(CODEBOOK_PARAM)!;
    this.engine = this.codebook.engine;
  }

  /** Whether the encoder (and so the tokens of an image) stays fixed. */
  get frozenEncoder(): boolean {
    return this.params.size < this.variables.size;
  }

  /** A freshly initialised tokenizer (initialValues: unit norms, zero biases, variance-1/fan_in kernels). */
  static initialize(engine: Engine, config: TokenizerConfig, seed = 0): TrainableTokenizer {
    const random = seededUniform(seed);
    const weights = new Map<string, Tensor>();
    for (const spec of tokenizerParams(config)) weights.set(spec.name, engine.keep(engine.tensor(initialValues(spec, random), spec.shape)));
    return new TrainableTokenizer(config, weights);
  }

  /** Every parameter tensor by name, the codebook included (the names VQGANTokenizer.fromWeights reads). */
  weights(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const spec of tokenizerParams(this.config)) out.set(spec.name, spec.name === CODEBOOK_PARAM ? this.codebook : this.variables.get(spec.name)!.value);
    return out;
  }

  private p(name: string): Variable {
    const v = this.variables.get(name);
    if (!v) throw new ArgumentError('name', `no parameter ${name}`);
    return v;
  }

  private conv(prefix: string, x: Variable, options: { bias?: boolean; residual?: Variable; upsample?: boolean } = {}): Variable {
    return conv2d(x, this.p(`${prefix}.weight`), {
      ...(options.bias && { bias: this.p(`${prefix}.bias`) }),
      ...(options.residual && { residual: options.residual }),
      ...(options.upsample && { upsample: true }),
    });
  }

  private norm(prefix: string, x: Variable): Variable {
    const { groupNormGroups: groups, groupNormEps: eps } = this.config;
    return groupNorm(x, this.p(`${prefix}.scale`), this.p(`${prefix}.bias`), { groups, eps, swish: true });
  }

  /** ResBlock (src/nn/resblock.ts): h = conv1(swish(norm1 x)); h = conv2(swish(norm2 h)); h + x, or h + shortcut(h). */
  private block(prefix: string, x: Variable, hasShortcut: boolean): Variable {
    const h = this.conv(`${prefix}.conv1`, this.norm(`${prefix}.norm1`, x));
    const n2 = this.norm(`${prefix}.norm2`, h);
    if (!hasShortcut) return this.conv(`${prefix}.conv2`, n2, { residual: x });
    const h2 = this.conv(`${prefix}.conv2`, n2);
    return this.conv(`${prefix}.shortcut`, h2, { residual: h2 });
  }

  /** pixels [B, H, W, 3] -> latents z [B, H/f, W/f, D] (Encoder of src/maskgit/tokenizer.ts). */
  encode(pixels: Variable): Variable {
    const c = this.config;
    const p = 'tokenizer.encoder';
    const widths = levelWidths(c);
    let h = this.conv(`${p}.conv_in`, pixels);
    let cin = c.filters;
    widths.forEach((w, level) => {
      for (let j = 0; j < c.numResBlocks; j++) {
        h = this.block(`${p}.down.${level}.block.${j}`, h, cin !== w);
        cin = w;
      }
      if (level < widths.length - 1) h = avgPool2x2(h);
    });
    for (let j = 0; j < c.numResBlocks; j++) h = this.block(`${p}.mid.block.${j}`, h, false);
    return this.conv(`${p}.conv_out`, this.norm(`${p}.norm_out`, h), { bias: true });
  }

  /** latents [B, h, w, D] -> pixels [B, h f, w f, 3], not clipped (Decoder of src/maskgit/tokenizer.ts). */
  decode(latents: Variable): Variable {
    return this.decodeWithFeatures(latents).pixels;
  }

  /** decode(), and the input of its output conv. */
  private decodeWithFeatures(latents: Variable): { pixels: Variable; features: Variable } {
    const c = this.config;
    const p = 'tokenizer.decoder';
    const widths = levelWidths(c);
    const top = widths[widths.length - 1]!;
    let h = this.conv(`${p}.conv_in`, latents, { bias: true });
    for (let j = 0; j < c.numResBlocks; j++) h = this.block(`${p}.mid.block.${j}`, h, false);
    let cin = top;
    for (let level = widths.length - 1; level >= 0; level--) {
      const w = widths[level]!;
      for (let j = 0; j < c.numResBlocks; j++) {
        h = this.block(`${p}.up.${level}.block.${j}`, h, cin !== w);
        cin = w;
      }
      if (level > 0) h = this.conv(`${p}.up.${level}.upsample`, h, { bias: true, upsample: true });
    }
    const features = this.norm(`${p}.norm_out`, h);
    return { pixels: this.conv(`${p}.conv_out`, features, { bias: true }), features };
  }

  /**
   * Encoder, nearest codes (straight-through), decoder. `beforeQuantize` sees the latents
   * first (e.g. to seed the codebook from the first batch). The caller frees `tokens`.
   */
  forward(pixels: Variable, commitment: number, beforeQuantize?: (latents: Tensor) => void): TokenizerForward {
    const f = 2 ** (this.config.channelMultipliers.length - 1);
    const [, H, W, C] = pixels.shape as [number, number, number, number];
    if (pixels.shape.length !== 4 || C !== 3 || H % f !== 0 || W % f !== 0) {
      throw new ShapeError(`TrainableTokenizer: pixels must be [B, H, W, 3] with H and W multiples of ${f}, got [${pixels.shape.join(', ')}]`);
    }
    const latents = this.encode(pixels);
    beforeQuantize?.(latents.value);
    const vq = vectorQuantize(latents, this.codebook, commitment);
    const { pixels: reconstruction, features: decoderFeatures } = this.decodeWithFeatures(vq.quantized);
    return { ...vq, latents, reconstruction, decoderFeatures };
  }

  dispose(): void {
    for (const v of this.variables.values()) {
      v.zeroGrad();
      v.value.dispose();
    }
    this.codebook.dispose();
  }
}
