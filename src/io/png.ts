import { convertIndexedToRgb, decode, encode, type DecodedPng } from 'fast-png';
import { Unzlib } from 'fflate';
import { ArgumentError } from '../errors.js';
import { concatPieces } from './flax.js';

/** An 8-bit RGBA image, row-major. */
export interface RGBAImage {
  width: number;
  height: number;
  /** width * height * 4 bytes. */
  data: Uint8Array;
}

/** Default bound on width x height (64 Mpx: 256 MiB of RGBA), so a 50-byte file cannot claim a gigapixel. */
export const PNG_MAX_PIXELS = 2 ** 26;

export interface DecodePNGOptions {
  /** Largest width x height accepted (default PNG_MAX_PIXELS). */
  maxPixels?: number;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** The CRC-32 of PNG chunks (and zlib's, ISO 3309). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.byteLength; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Bit depths allowed per colour type (PNG spec, table 11.1). */
const DEPTHS: Readonly<Record<number, readonly number[]>> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Bytes of filtered scanlines (a filter byte per row) the image data must inflate to, Adam7 passes included. */
function inflatedSize(width: number, height: number, bitsPerPixel: number, interlaced: boolean): number {
  const rows = (w: number, h: number) => (w > 0 && h > 0 ? h * (1 + Math.ceil((w * bitsPerPixel) / 8)) : 0);
  if (!interlaced) return rows(width, height);
  const passes = [
    [0, 0, 8, 8],
    [4, 0, 8, 8],
    [0, 4, 4, 8],
    [2, 0, 4, 4],
    [0, 2, 2, 4],
    [1, 0, 2, 2],
    [0, 1, 1, 2],
  ] as const;
  return passes.reduce((n, [x0, y0, dx, dy]) => n + rows(Math.ceil((width - x0) / dx), Math.ceil((height - y0) / dy)), 0);
}

/**
 * Walks a PNG's chunks before anything is decoded, bounding what decoding may allocate: the
 * signature, chunk lengths within the file, CRCs of the chunks kept, an IHDR with a valid
 * colour type / depth and at most `maxPixels` pixels, and image data that inflates to exactly
 * the size the header implies (inflated in small steps and stopped past it, so a
 * decompression bomb costs at most a step). Returns a PNG holding only IHDR, PLTE, tRNS, the
 * image data and IEND: ancillary chunks (compressed colour profiles, text) never reach the decoder.
 */
function checkedPNG(bytes: Uint8Array, what: string, maxPixels: number): Uint8Array {
  const bad = (message: string) => new ArgumentError(what, `is not a readable PNG file (${message})`);
  if (bytes.byteLength < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) throw bad('no PNG signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kept: Uint8Array[] = [bytes.subarray(0, 8)];
  let header: { width: number; height: number; colour: number; depth: number; interlaced: boolean } | null = null;
  let palette = false;
  let expected = 0;
  let inflated = 0;
  let inflater: Unzlib | null = null;
  let seenData = false;
  let dataEnded = false;
  for (let at = 8; ; ) {
    if (at + 12 > bytes.byteLength) throw bad(`the file ends at byte ${bytes.byteLength}, before its IEND chunk (truncated?)`);
    const length = view.getUint32(at);
    const type = String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!, bytes[at + 6]!, bytes[at + 7]!);
    if (length > 2 ** 31 - 1 || at + 12 + length > bytes.byteLength) throw bad(`chunk "${type}" at byte ${at} claims ${length} bytes past the end of the file`);
    const chunk = bytes.subarray(at, at + 12 + length);
    const data = chunk.subarray(8, 8 + length);
    at += 12 + length;
    const critical = type === 'IHDR' || type === 'PLTE' || type === 'IDAT' || type === 'IEND' || type === 'tRNS';
    if (!critical) {
      if (!(chunk[4]! & 0x20)) throw bad(`unknown critical chunk "${type}"`);
      continue; // ancillary: not needed for the pixels
    }
    if (crc32(chunk.subarray(4, 8 + length)) !== view.getUint32(at - 4)) throw bad(`chunk "${type}" fails its CRC check (corrupt file)`);
    if (!header && type !== 'IHDR') throw bad(`the first chunk is "${type}", not IHDR`);
    if (seenData && type !== 'IDAT') dataEnded = true;
    switch (type) {
      case 'IHDR': {
        if (header) throw bad('it has two IHDR chunks');
        if (length !== 13) throw bad(`IHDR has ${length} bytes, not 13`);
        const width = view.getUint32(at - 4 - 13);
        const height = view.getUint32(at - 4 - 9);
        const [depth, colour, compression, filter, interlace] = data.subarray(8, 13) as unknown as [number, number, number, number, number];
        if (width < 1 || height < 1 || width > 2 ** 31 - 1 || height > 2 ** 31 - 1) throw bad(`image size ${width}x${height}`);
        if (!DEPTHS[colour]?.includes(depth)) throw bad(`colour type ${colour} with bit depth ${depth}`);
        if (compression !== 0 || filter !== 0 || interlace > 1) throw bad(`compression ${compression}, filter ${filter}, interlace ${interlace}`);
        if (width * height > maxPixels) {
          throw new ArgumentError(what, `is ${width}x${height} pixels, more than the ${maxPixels} accepted (options.maxPixels)`);
        }
        header = { width, height, colour, depth, interlaced: interlace === 1 };
        expected = inflatedSize(width, height, depth * CHANNELS[colour]!, header.interlaced);
        kept.push(chunk);
        break;
      }
      case 'PLTE':
        if (palette || seenData) throw bad('PLTE repeated or after the image data');
        if (length % 3 !== 0 || length === 0 || length > 3 * 256) throw bad(`PLTE of ${length} bytes`);
        palette = true;
        kept.push(chunk);
        break;
      case 'tRNS':
        if (seenData) throw bad('tRNS after the image data');
        kept.push(chunk);
        break;
      case 'IDAT': {
        if (dataEnded) throw bad('the image data (IDAT) is not in consecutive chunks');
        if (header!.colour === 3 && !palette) throw bad('an indexed-colour image without a palette');
        seenData = true;
        inflater ??= new Unzlib((out) => {
          inflated += out.byteLength;
          if (inflated > expected) throw bad(`the image data inflates past the ${expected} bytes a ${header!.width}x${header!.height} image holds`);
        });
        try {
          for (let i = 0; i < data.byteLength; i += 1024) inflater.push(data.subarray(i, i + 1024));
        } catch (error) {
          if (error instanceof ArgumentError) throw error;
          throw bad(`its image data is not valid zlib: ${(error as Error).message}`);
        }
        kept.push(chunk);
        break;
      }
      case 'IEND': {
        if (!seenData) throw bad('no image data (IDAT) before IEND');
        try {
          inflater!.push(new Uint8Array(0), true);
        } catch (error) {
          if (error instanceof ArgumentError) throw error;
          throw bad(`its image data is not valid zlib: ${(error as Error).message}`);
        }
        if (inflated !== expected) throw bad(`the image data holds ${inflated} bytes, a ${header!.width}x${header!.height} image needs ${expected} (truncated?)`);
        kept.push(chunk);
        return concatPieces(kept);
      }
    }
  }
}

/**
 * Decodes a PNG of any colour type and depth (grey, grey+alpha, RGB, RGBA, indexed with or
 * without transparency; 1-16 bits) into 8-bit RGBA. `what` names the input in errors: any
 * malformed, truncated or oversized file (beyond `options.maxPixels`) throws ArgumentError,
 * after allocating no more than the image's own size.
 */
export function decodePNG(bytes: Uint8Array, what = 'image', options: DecodePNGOptions = {}): RGBAImage {
  if (!(bytes instanceof Uint8Array)) throw new ArgumentError(what, 'must be the bytes of a PNG file (a Uint8Array)');
  const maxPixels = options.maxPixels ?? PNG_MAX_PIXELS;
  if (!(maxPixels >= 1)) throw new ArgumentError('maxPixels', `must be a number >= 1, got ${String(maxPixels)}`);
  const checked = checkedPNG(bytes, what, maxPixels);
  let png: DecodedPng;
  let rgb: Uint8Array | null = null;
  try {
    png = decode(checked);
    if (png.palette) rgb = convertIndexedToRgb(png);
  } catch (cause) {
    throw new ArgumentError(what, `is not a readable PNG file (${cause instanceof Error ? cause.message : String(cause)})`);
  }
  const { width, height } = png;
  const n = width * height;
  const out = new Uint8Array(n * 4);
  if (rgb) {
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
