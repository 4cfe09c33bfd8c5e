import type { Weights } from '../maskgit/weights.js';
import type { Tensor } from '../tensor/tensor.js';
import { Conv2d } from './conv2d.js';
import { GroupNorm } from './groupnorm.js';

export interface NormOptions {
  groups: number;
  eps: number;
}

/**
 * The VQGAN residual block as the official MaskGIT tokenizer has it (no biases in its convs):
 *   h = conv1(swish(norm1(x))); h = conv2(swish(norm2(h)));
 *   return cin == cout ? h + x : h + shortcut(h)
 * The 1x1 shortcut is applied to the block's conv OUTPUT h, not to x (the official code's
 * behaviour, which its weights were trained with). Both residual adds are fused into the
 * epilogue of the conv that produces them.
 */
export class ResBlock {
  constructor(
    readonly norm1: GroupNorm,
    readonly conv1: Conv2d,
    readonly norm2: GroupNorm,
    readonly conv2: Conv2d,
    readonly shortcut: Conv2d | null,
  ) {}

  /** The block named `prefix` (norm1, conv1, norm2, conv2 and, when cin != cout, shortcut). */
  static fromWeights(weights: Weights, prefix: string, cin: number, cout: number, norm: NormOptions): ResBlock {
    return new ResBlock(
      GroupNorm.fromWeights(weights, `${prefix}.norm1`, cin, norm.groups, norm.eps),
      Conv2d.fromWeights(weights, `${prefix}.conv1`, 3, cin, cout, false),
      GroupNorm.fromWeights(weights, `${prefix}.norm2`, cout, norm.groups, norm.eps),
      Conv2d.fromWeights(weights, `${prefix}.conv2`, 3, cout, cout, false),
      cin === cout ? null : Conv2d.fromWeights(weights, `${prefix}.shortcut`, 1, cout, cout, false),
    );
  }

  forward(x: Tensor): Tensor {
    // Each intermediate is freed as soon as its last reader is recorded (dispatches run in
    // order, so the pool may hand its buffer to the next op): a smaller peak than a scope.
    const n1 = this.norm1.forward(x, true);
    const h = this.conv1.forward(n1);
    n1.dispose();
    const n2 = this.norm2.forward(h, true);
    h.dispose();
    if (!this.shortcut) {
      const out = this.conv2.forward(n2, { residual: x });
      n2.dispose();
      return out;
    }
    const h2 = this.conv2.forward(n2);
    n2.dispose();
    const out = this.shortcut.forward(h2, { residual: h2 });
    h2.dispose();
    return out;
  }
}
