import { ArgumentError } from '../../errors.js';
import { enlarge } from '../../io/plot.js';
import { imageGrid, rgbFloatToRGBA, type RGBAImage } from '../../io/png.js';
import type { VQGANTokenizer } from '../tokenizer.js';
import { imageSlice, psnr, type ImageSet } from './data.js';

/** How well a tokenizer reconstructs a set of images. */
export interface ReconstructionMetrics {
  images: number;
  /** Mean over images of each image's PSNR (dB; a perfect image counts as 100 dB). */
  psnr: number;
  /** PSNR of the mean squared error over all pixels (dB). */
  psnrOfMeanError: number;
  mse: number;
  /**
   * Mean gradient magnitude (|horizontal| + |vertical| pixel differences) of the reconstructions
   * over that of the originals: 1 is as sharp as the originals, below 1 blurred.
   */
  sharpness: number;
  /** Distinct codes the images use, and the perplexity of their distribution. */
  codesUsed: number;
  perplexity: number;
}

/** Images through encode() and decode() (clipped to [0, 1]) in batches: reconstructions and tokens. */
export async function reconstructImages(tokenizer: VQGANTokenizer, images: ImageSet, batch = 32): Promise<{ pixels: Float32Array; tokens: Int32Array }> {
  const { count, size } = images;
  const engine = tokenizer.engine;
  const per = size * size * 3;
  const pixels = new Float32Array(count * per);
  const tokens = new Int32Array(count * (size / tokenizer.downsample) ** 2);
  for (let at = 0; at < count; at += batch) {
    const n = Math.min(batch, count - at);
    const [rec, ids] = engine.tidy(() => {
      const ids = tokenizer.encode(engine.tensor(imageSlice(images, at, n), [n, size, size, 3]));
      return [tokenizer.decode(ids), ids] as const;
    });
    pixels.set(await rec.read(), at * per);
    const t = await ids.read();
    tokens.set(t, (at * t.length) / n);
    rec.dispose();
    ids.dispose();
  }
  return { pixels, tokens };
}

/** Sum over an image [size, size, 3] of |x[y, x+1] - x[y, x]| + |x[y+1, x] - x[y, x]|. */
function gradientMagnitude(pixels: Float32Array, offset: number, size: number): number {
  let total = 0;
  const row = size * 3;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        const at = offset + y * row + x * 3 + c;
        if (x + 1 < size) total += Math.abs(pixels[at + 3]! - pixels[at]!);
        if (y + 1 < size) total += Math.abs(pixels[at + row]! - pixels[at]!);
      }
    }
  }
  return total;
}

/** PSNR, sharpness and codebook use of reconstructions `pixels` (with their `tokens`) of `images`. */
export function reconstructionMetrics(images: ImageSet, pixels: Float32Array, tokens: Int32Array): ReconstructionMetrics {
  const { count, size } = images;
  if (count === 0) throw new ArgumentError('images', 'there are no images to evaluate on');
  const per = size * size * 3;
  let psnrSum = 0;
  let seSum = 0;
  let edgesReconstructed = 0;
  let edgesOriginal = 0;
  for (let i = 0; i < count; i++) {
    edgesReconstructed += gradientMagnitude(pixels, i * per, size);
    edgesOriginal += gradientMagnitude(images.images, i * per, size);
    let se = 0;
    for (let j = i * per; j < (i + 1) * per; j++) se += (pixels[j]! - images.images[j]!) ** 2;
    seSum += se;
    psnrSum += Math.min(psnr(se / per), 100);
  }
  const uses = new Map<number, number>();
  for (const t of tokens) uses.set(t, (uses.get(t) ?? 0) + 1);
  let entropy = 0;
  for (const n of uses.values()) entropy -= (n / tokens.length) * Math.log(n / tokens.length);
  const mse = seSum / (count * per);
  const sharpness = edgesOriginal > 0 ? edgesReconstructed / edgesOriginal : 1;
  return { images: count, psnr: psnrSum / count, psnrOfMeanError: psnr(mse), mse, sharpness, codesUsed: uses.size, perplexity: Math.exp(entropy) };
}

/** Reconstructs `images` with `tokenizer` and measures it. */
export async function evaluateTokenizer(tokenizer: VQGANTokenizer, images: ImageSet, batch = 32): Promise<ReconstructionMetrics> {
  const { pixels, tokens } = await reconstructImages(tokenizer, images, batch);
  return reconstructionMetrics(images, pixels, tokens);
}

/**
 * `count` images spread evenly over `images`, originals above their reconstructions, 8 per row
 * pair, enlarged x2 (a picture of how well the tokenizer does).
 */
export async function reconstructionGrid(tokenizer: VQGANTokenizer, images: ImageSet, count = 16): Promise<RGBAImage> {
  const { size } = images;
  const n = Math.min(count, images.count);
  if (n === 0) throw new ArgumentError('images', 'there are no images to show');
  const per = size * size * 3;
  const chosen: ImageSet = { images: new Float32Array(n * per), count: n, size };
  for (let i = 0; i < n; i++) {
    const p = Math.floor((i * images.count) / n);
    chosen.images.set(images.images.subarray(p * per, (p + 1) * per), i * per);
  }
  const { pixels } = await reconstructImages(tokenizer, chosen);
  const cols = 8;
  const white: RGBAImage = { width: size, height: size, data: new Uint8Array(size * size * 4).fill(255) };
  const tile = (src: Float32Array, i: number) => (i < n ? rgbFloatToRGBA(src.subarray(i * per, (i + 1) * per), size, size) : white);
  const width = Math.min(cols, n);
  const tiles: RGBAImage[] = [];
  for (let row = 0; row < n; row += width) {
    for (let k = 0; k < width; k++) tiles.push(tile(chosen.images, row + k));
    for (let k = 0; k < width; k++) tiles.push(tile(pixels, row + k));
  }
  return enlarge(imageGrid(tiles, width, 2), 2);
}
