import { ArgumentError } from '../../errors.js';
import type { LabelledImages } from '../../io/emoji.js';
import type { VQGANTokenizer } from '../tokenizer.js';
import type { TokenData } from './mvtm.js';

/** Mirrors each [size, size, 3] image of a packed set left to right. */
export function flipHorizontal(images: Float32Array, count: number, size: number): Float32Array {
  const out = new Float32Array(images.length);
  const row = size * 3;
  for (let i = 0; i < count; i++) {
    for (let y = 0; y < size; y++) {
      const base = (i * size + y) * row;
      for (let x = 0; x < size; x++) {
        const from = base + x * 3;
        const to = base + (size - 1 - x) * 3;
        out[to] = images[from]!;
        out[to + 1] = images[from + 1]!;
        out[to + 2] = images[from + 2]!;
      }
    }
  }
  return out;
}

/** Token ids of packed images [count, size, size, 3] in [0, 1], encoded in batches on the GPU. */
export async function encodeImages(
  tokenizer: VQGANTokenizer,
  images: Float32Array,
  count: number,
  size: number,
  options: { batchSize?: number; onBatch?: (done: number, total: number) => void } = {},
): Promise<Int32Array> {
  const engine = tokenizer.engine;
  const batchSize = options.batchSize ?? 64;
  const per = size * size * 3;
  if (images.length !== count * per) throw new ArgumentError('images', `${images.length} values are not ${count} images of ${size}x${size}x3`);
  const n = (size / tokenizer.downsample) ** 2;
  const out = new Int32Array(count * n);
  for (let first = 0; first < count; first += batchSize) {
    const B = Math.min(batchSize, count - first);
    const pixels = engine.tensor(images.subarray(first * per, (first + B) * per), [B, size, size, 3]);
    const tokens = tokenizer.encode(pixels);
    out.set(await tokens.read(), first * n);
    pixels.dispose();
    tokens.dispose();
    options.onBatch?.(first + B, count);
  }
  return out;
}

/**
 * The training tokens of a labelled image set: every image and (with `flip`) its mirror image,
 * encoded once with the tokenizer. Mirrors follow the originals: example count + i is image i
 * flipped, with the same label.
 */
export async function tokenizeImages(
  tokenizer: VQGANTokenizer,
  set: LabelledImages,
  size: number,
  options: { flip?: boolean; batchSize?: number; onBatch?: (done: number, total: number) => void } = {},
): Promise<TokenData> {
  const flip = options.flip ?? false;
  const total = flip ? 2 * set.count : set.count;
  const report = (done: number) => options.onBatch?.(done, total);
  const base = await encodeImages(tokenizer, set.images, set.count, size, { ...options, onBatch: report });
  const length = base.length / Math.max(1, set.count);
  if (!flip) return { tokens: base, labels: Int32Array.from(set.labels), count: set.count, length };
  const mirrored = await encodeImages(tokenizer, flipHorizontal(set.images, set.count, size), set.count, size, {
    ...options,
    onBatch: (done) => report(set.count + done),
  });
  const tokens = new Int32Array(2 * base.length);
  tokens.set(base, 0);
  tokens.set(mirrored, base.length);
  const labels = new Int32Array(2 * set.count);
  labels.set(set.labels, 0);
  labels.set(set.labels, set.count);
  return { tokens, labels, count: 2 * set.count, length };
}
