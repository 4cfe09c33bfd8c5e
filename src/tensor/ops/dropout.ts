import dropoutSource from '../../../kernels/dropout.wgsl';
import philoxSource from '../../../kernels/philox.wgsl';
import { ArgumentError, ShapeError } from '../../errors.js';
import { RNG_PURPOSE, streamBlock } from '../../maskgit/rng.js';
import { f32 } from '../engine.js';
import { defineKernel } from '../kernel.js';
import type { Tensor } from '../tensor.js';

const DROPOUT = defineKernel('dropout', philoxSource + '\n' + dropoutSource);
const WG = 64;

export interface DropoutOptions {
  /** Probability of zeroing an element, in [0, 1). */
  rate: number;
  /** The run's seed (key word 0 of the Philox stream). */
  seed: number;
  /** Which dropout of the model this is (counter word 1): each site draws its own mask. */
  site: number;
  /** The training step (counter word 2): each step draws new masks. */
  step: number;
}

function checkDropout(options: DropoutOptions): number {
  const { rate, seed, site, step } = options;
  if (!(typeof rate === 'number' && rate >= 0 && rate < 1)) throw new ArgumentError('rate', `must be in [0, 1), got ${rate}`);
  for (const [name, v] of Object.entries({ seed, site, step })) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ArgumentError(name, `must be an integer in [0, 2^32), got ${v}`);
  }
  return Math.round(rate * 2 ** 24);
}

/**
 * Dropout: each element is zeroed with probability `rate`, the others scaled by 1 / (1 - rate).
 * The mask is a Philox function of (seed, site, step, element index), identical on every
 * adapter and on the host (dropoutKeeps); the backward is the same op applied to the gradient.
 * f32.
 */
export function dropout(x: Tensor, options: DropoutOptions): Tensor {
  const threshold = checkDropout(options);
  if (x.dtype !== 'f32') throw new ShapeError(`dropout: x is ${x.dtype}; dropout is a training op on f32`);
  const engine = x.engine;
  const out = engine.empty(x.shape);
  if (out.size === 0) return out;
  const blocks = Math.ceil(x.size / 4);
  engine.run({
    kernel: DROPOUT,
    defines: { WG, V4: x.size % 4 === 0 },
    params: [x.size, options.seed, RNG_PURPOSE.DROPOUT, options.site, options.step, threshold, f32(1 / (1 - options.rate))],
    inputs: [x],
    outputs: [out],
    workgroups: engine.grid(Math.ceil(blocks / WG)),
  });
  return out;
}

/** The host mirror of dropout's mask: whether each of the first `n` elements is kept. */
export function dropoutKeeps(n: number, options: DropoutOptions): Uint8Array {
  const threshold = checkDropout(options);
  const keeps = new Uint8Array(n);
  for (let block = 0; block * 4 < n; block++) {
    const words = streamBlock(options.seed, RNG_PURPOSE.DROPOUT, block, options.site, options.step);
    for (let w = 0; w < 4 && block * 4 + w < n; w++) keeps[block * 4 + w] = words[w]! >>> 8 >= threshold ? 1 : 0;
  }
  return keeps;
}
