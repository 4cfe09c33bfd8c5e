import { ArgumentError } from '../../errors.js';
import { seededUniform } from '../init.js';

/** Square RGB images in [0, 1], HWC, packed one after another. */
export interface ImageSet {
  /** [count, size, size, 3]. */
  images: Float32Array;
  count: number;
  size: number;
}

export interface AugmentOptions {
  /** Mirror left-right with probability 1/2. Default true. */
  flip?: boolean;
  /** Shift by up to this many pixels in x and y (uniform integers), filling with `fill`. Default 2. */
  maxShift?: number;
  /** The value shifted-in pixels take (the emoji are composited over white: 1). Default 1. */
  fill?: number;
}

/** A 32-bit hash of integers (mixes like murmur3's finaliser), for per-example random choices. */
export function hashInts(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    h = Math.imul(h ^ (v >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/**
 * The training stream: a deterministic function of (seed, step). Epoch e visits the images in
 * a permutation drawn from (seed, e); step s takes the B examples s*B .. s*B + B - 1 of the
 * concatenated epochs; each example's flip and shift come from (seed, its global index). So a
 * run resumed at step s sees exactly what an uninterrupted run would, with nothing to save but
 * the step.
 */
export class TrainingStream {
  readonly batchSize: number;
  private readonly flip: boolean;
  private readonly maxShift: number;
  private readonly fill: number;
  private epochCached = -1;
  private order: Uint32Array = new Uint32Array(0);

  constructor(
    readonly data: ImageSet,
    batchSize: number,
    readonly seed: number,
    augment: AugmentOptions = {},
  ) {
    if (data.count < 1) throw new ArgumentError('data', 'needs at least one training image');
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new ArgumentError('batchSize', `must be a positive integer, got ${batchSize}`);
    this.batchSize = batchSize;
    this.flip = augment.flip ?? true;
    this.maxShift = augment.maxShift ?? 2;
    this.fill = augment.fill ?? 1;
    if (!Number.isInteger(this.maxShift) || this.maxShift < 0 || this.maxShift >= data.size) {
      throw new ArgumentError('maxShift', `must be an integer in [0, ${data.size}), got ${this.maxShift}`);
    }
  }

  /** The image order of epoch `e` (Fisher-Yates with a generator seeded by (seed, e)). */
  permutation(epoch: number): Uint32Array {
    if (epoch !== this.epochCached) {
      const n = this.data.count;
      const order = Uint32Array.from({ length: n }, (_, i) => i);
      const random = seededUniform(hashInts(this.seed, epoch, 0x5eed));
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        const t = order[i]!;
        order[i] = order[j]!;
        order[j] = t;
      }
      this.order = order;
      this.epochCached = epoch;
    }
    return this.order;
  }

  /** Which image, flip and shift the example with global index `g` uses. */
  example(g: number): { image: number; flip: boolean; dx: number; dy: number } {
    const n = this.data.count;
    const image = this.permutation(Math.floor(g / n))[g % n]!;
    const h = hashInts(this.seed, g, 0xa06);
    const span = 2 * this.maxShift + 1;
    return {
      image,
      flip: this.flip && (h & 1) === 1,
      dx: ((h >>> 1) % span) - this.maxShift,
      dy: ((h >>> 9) % span) - this.maxShift,
    };
  }

  /** The examples of training step `step`: [B, size, size, 3]. */
  batch(step: number): Float32Array {
    const { size, images } = this.data;
    const per = size * size * 3;
    const out = new Float32Array(this.batchSize * per);
    for (let i = 0; i < this.batchSize; i++) {
      const { image, flip, dx, dy } = this.example(step * this.batchSize + i);
      const src = image * per;
      const dst = i * per;
      for (let y = 0; y < size; y++) {
        const sy = y - dy;
        for (let x = 0; x < size; x++) {
          const sx0 = x - dx;
          const sx = flip ? size - 1 - sx0 : sx0;
          const o = dst + (y * size + x) * 3;
          if (sy < 0 || sy >= size || sx0 < 0 || sx0 >= size) {
            out[o] = out[o + 1] = out[o + 2] = this.fill;
          } else {
            const s = src + (sy * size + sx) * 3;
            out[o] = images[s]!;
            out[o + 1] = images[s + 1]!;
            out[o + 2] = images[s + 2]!;
          }
        }
      }
    }
    return out;
  }

  /** Which epoch and position step `step` starts at (for logs). */
  position(step: number): { epoch: number; index: number } {
    const g = step * this.batchSize;
    return { epoch: Math.floor(g / this.data.count), index: g % this.data.count };
  }
}

/** Images `first` .. `first + count - 1` of a set, packed ([count, size, size, 3]). */
export function imageSlice(data: ImageSet, first: number, count: number): Float32Array {
  const per = data.size * data.size * 3;
  return data.images.subarray(first * per, (first + count) * per);
}

/** PSNR in dB of a reconstruction against its original, from the mean squared error of pixels in [0, 1]. */
export function psnr(mse: number): number {
  return mse > 0 ? -10 * Math.log10(mse) : Infinity;
}
