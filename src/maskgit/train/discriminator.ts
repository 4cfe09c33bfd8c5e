import { ArgumentError, ShapeError } from '../../errors.js';
import { constant, parameter, type Variable } from '../../tensor/autograd.js';
import type { Engine } from '../../tensor/engine.js';
import { avgPool2x2, conv2d } from '../../tensor/grad/conv.js';
import { leakyRelu } from '../../tensor/grad/nn.js';
import type { Tensor } from '../../tensor/tensor.js';
import { initialValues, seededUniform } from '../init.js';
import type { ParamSpec } from '../weights.js';

/** Parameter names start with this (they never collide with the tokenizer's). */
export const DISCRIMINATOR_PREFIX = 'discriminator';

/** Layers of the patch discriminator: (input channels, output channels) multipliers of `filters`. */
const LAYERS = ['conv_0', 'conv_1', 'conv_2', 'conv_out'] as const;

/**
 * The parameters of a patch discriminator with `filters` channels in its first layer:
 * conv_0 3 -> F, conv_1 F -> 2F, conv_2 2F -> 4F (3x3, bias), conv_out 4F -> 1 (3x3, bias).
 */
export function discriminatorParams(filters: number): ParamSpec[] {
  if (!Number.isInteger(filters) || filters < 1) throw new ArgumentError('filters', `must be a positive integer, got ${filters}`);
  const widths = [3, filters, 2 * filters, 4 * filters, 1];
  return LAYERS.flatMap((layer, i) => [
    { name: `${DISCRIMINATOR_PREFIX}.${layer}.weight`, shape: [3, 3, widths[i]!, widths[i + 1]!] },
    { name: `${DISCRIMINATOR_PREFIX}.${layer}.bias`, shape: [widths[i + 1]!] },
  ]);
}

/**
 * A PatchGAN-style discriminator for the tokenizer's adversarial loss (taming-transformers'
 * NLayerDiscriminator in spirit): every logit of its [B, H/4, W/4, 1] output judges one patch
 * (a receptive field of 26 px) as real or reconstructed. Layers: 3x3 conv + leaky ReLU (0.2) at
 * full resolution, 2x2 average pooling, the same at 1/2 and 1/4 resolution with twice and four
 * times the channels, then a 3x3 conv to one logit per position. No normalisation layers (as the
 * StyleGAN discriminator of the MaskGIT tokenizer), so one image's logits never depend on
 * another image of the batch.
 */
export class PatchDiscriminator {
  readonly engine: Engine;
  /** Trainable parameters by name (discriminatorParams order). */
  readonly params: Map<string, Variable>;

  constructor(
    readonly filters: number,
    weights: ReadonlyMap<string, Tensor>,
  ) {
    this.params = new Map();
    for (const spec of discriminatorParams(filters)) {
      const t = weights.get(spec.name);
      if (!t) throw new ArgumentError('weights', `no ${spec.name} among the discriminator's weights`);
      if (t.shape.join() !== spec.shape.join()) throw new ShapeError(`${spec.name} is [${t.shape.join(', ')}], expected [${spec.shape.join(', ')}]`);
      if (t.dtype !== 'f32') throw new ArgumentError('weights', `${spec.name} is ${t.dtype}; training runs in f32`);
      this.params.set(spec.name, parameter(t));
    }
    this.engine = this.params.values().next().value!.value.engine;
  }

  /** Freshly initialised (variance 1/fan_in kernels, zero biases), deterministic for a seed. */
  static initialize(engine: Engine, filters: number, seed: number): PatchDiscriminator {
    const random = seededUniform(seed);
    const weights = new Map<string, Tensor>();
    for (const spec of discriminatorParams(filters)) weights.set(spec.name, engine.keep(engine.tensor(initialValues(spec, random), spec.shape)));
    return new PatchDiscriminator(filters, weights);
  }

  /** Every parameter tensor by name. */
  weights(): Map<string, Tensor> {
    return new Map([...this.params].map(([name, v]) => [name, v.value]));
  }

  /**
   * Logits [B, H/4, W/4, 1] for images [B, H, W, 3] (H and W multiples of 4). With `frozen`,
   * the weights take part as constants: the graph carries gradients to the images only (the
   * generator's step), and no weight gradient is computed.
   */
  forward(images: Variable, options: { frozen?: boolean } = {}): Variable {
    const [, H, W, C] = images.shape as [number, number, number, number];
    if (images.shape.length !== 4 || C !== 3 || H % 4 !== 0 || W % 4 !== 0) {
      throw new ShapeError(`PatchDiscriminator: images must be [B, H, W, 3] with H and W multiples of 4, got [${images.shape.join(', ')}]`);
    }
    const p = (name: string): Variable => {
      const v = this.params.get(`${DISCRIMINATOR_PREFIX}.${name}`)!;
      return options.frozen ? constant(v.value) : v;
    };
    const layer = (name: (typeof LAYERS)[number], x: Variable) => conv2d(x, p(`${name}.weight`), { bias: p(`${name}.bias`) });
    let h = leakyRelu(layer('conv_0', images));
    h = leakyRelu(layer('conv_1', avgPool2x2(h)));
    h = leakyRelu(layer('conv_2', avgPool2x2(h)));
    return layer('conv_out', h);
  }

  dispose(): void {
    for (const v of this.params.values()) {
      v.zeroGrad();
      v.value.dispose();
    }
  }
}
