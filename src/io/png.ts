import { convertIndexedToRgb, decode, encode, type DecodedPng } from 'fast-png';
import { ArgumentError } from '../errors.js';

/** An 8-bit RGBA image, row-major. */
export interface RGBAImage {
  width: number;
  height: number;
  /** width * height * 4 bytes. */
  data: Uint8Array;
}

/**
 * Decodes a PNG of any colour type and depth (grey, grey+alpha, RGB, RGBA, indexed with or
 * without transparency; 1-16 bits) into 8-bit RGBA. `what` names the input in errors.
 */
export function decodePNG(bytes: Uint8Array, what = 'image'): RGBAImage {
  let png: DecodedPng;
  try {
    png = decode(bytes);
  } catch (cause) {
    throw new ArgumentError(what, `is not a readable PNG file (${cause instanceof Error ? cause.message : String(cause)})`);
  }
  const { width, height } = png;
  const n = width * height;
  const out = new Uint8Array(n * 4);
  if (png.palette) {
    const rgb = convertIndexedToRgb(png);
    const channels = rgb.length / n;
    for (let i = 0; i < n; i++) {
      out[i * 4] = rgb[i * channels]!;
      out[i * 4 + 1] = rgb[i * channels + 1]!;
      out[i * 4 + 2] = rgb[i * channels + 2]!;
      out[i * 4 + 3] = channels === 4 ? rgb[i * channels + 3]! : 255;
    }
    return { width, height, data: out };
  }
  const c = png.channels;
  const src = png.data;
  // Samples above 8 bits are scaled to 8; below 8 bits fast-png already unpacked them to 0..2^depth-1.
  const max = 2 ** png.depth - 1;
  const to8 = (v: number) => (png.depth === 8 ? v : Math.round((v * 255) / max));
  for (let i = 0; i < n; i++) {
    const s = i * c;
    if (c === 1 || c === 2) {
      const g = to8(src[s]!);
      out[i * 4] = out[i * 4 + 1] = out[i * 4 + 2] = g;
      out[i * 4 + 3] = c === 2 ? to8(src[s + 1]!) : 255;
    } else {
      out[i * 4] = to8(src[s]!);
      out[i * 4 + 1] = to8(src[s + 1]!);
      out[i * 4 + 2] = to8(src[s + 2]!);
      out[i * 4 + 3] = c === 4 ? to8(src[s + 3]!) : 255;
    }
  }
  return { width, height, data: out };
}

/** Encodes 8-bit RGBA as a PNG. */
export function encodePNG(image: RGBAImage): Uint8Array {
  if (image.data.length !== image.width * image.height * 4) {
    throw new ArgumentError('image', `has ${image.data.length} bytes, expected ${image.width}x${image.height}x4`);
  }
  return encode({ width: image.width, height: image.height, data: image.data, channels: 4, depth: 8 });
}

/** Composites RGBA over a solid background and returns RGB floats in [0, 1] (HWC). */
export function rgbaToRGBFloat(image: RGBAImage, background: readonly [number, number, number] = [1, 1, 1]): Float32Array {
  const n = image.width * image.height;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = image.data[i * 4 + 3]! / 255;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = (image.data[i * 4 + c]! / 255) * a + background[c]! * (1 - a);
  }
  return out;
}

/** RGB floats (HWC, clipped to [0, 1]) to opaque 8-bit RGBA. */
export function rgbFloatToRGBA(rgb: Float32Array, width: number, height: number): RGBAImage {
  const n = width * height;
  if (rgb.length !== n * 3) throw new ArgumentError('pixels', `has ${rgb.length} values, expected ${width}x${height}x3`);
  const data = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) data[i * 4 + c] = Math.round(Math.min(1, Math.max(0, rgb[i * 3 + c]!)) * 255);
    data[i * 4 + 3] = 255;
  }
  return { width, height, data };
}

/** Lays out equally sized images in a grid (row-major), with `gap` background pixels between. */
export function imageGrid(images: readonly RGBAImage[], columns: number, gap = 2, background = 255): RGBAImage {
  if (images.length === 0) throw new ArgumentError('images', 'needs at least one image');
  const { width: w, height: h } = images[0]!;
  const cols = Math.min(columns, images.length);
  const rows = Math.ceil(images.length / cols);
  const width = cols * w + (cols - 1) * gap;
  const height = rows * h + (rows - 1) * gap;
  const data = new Uint8Array(width * height * 4).fill(background);
  images.forEach((img, k) => {
    if (img.width !== w || img.height !== h) throw new ArgumentError('images', 'must all have the same size');
    const x0 = (k % cols) * (w + gap);
    const y0 = Math.floor(k / cols) * (h + gap);
    for (let y = 0; y < h; y++) data.set(img.data.subarray(y * w * 4, (y + 1) * w * 4), ((y0 + y) * width + x0) * 4);
  });
  return { width, height, data };
}
