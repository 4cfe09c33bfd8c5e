/**
 * Editing on MaskGIT's decode: the image is encoded to tokens, the tokens to regenerate are
 * set to the mask id (every other token is kept: +infinity confidence in the decode loop),
 * the decode runs from a later start step, and the result is blended into the input in pixel
 * space. inpaint (a pixel mask), outpaint (extrapolation in model-sized windows, as in the
 * paper) and editBox (the official class-conditional box edit) share that path.
 *
 * Pixel mask -> token mask: a token is regenerated when ANY of its f x f pixels is masked
 * (f = the tokenizer's downsampling factor), so every masked pixel lies in a regenerated token.
 *
 * Blending: m = a weight per pixel, out = generated * m + input * (1 - m), with the token mask
 * upsampled to pixels (nearest) and Gaussian-blurred with standard deviation S/16 - 1 (S = the
 * model's image size; the official recipe's `GaussianBlur(radius=S//16-1)`, whose radius is a
 * standard deviation), a sampled kernel truncated at 3 sigma, edges extended.
 *  - editBox: m = blur(box mask), exactly the official recipe.
 *  - inpaint: m = max(pixel mask, blur(token mask)): every masked pixel is fully generated, and
 *    every pixel farther than 3 sigma from a regenerated token is the input's, exactly.
 *  - outpaint: per window, m = max(new region, blur(token mask)): the new pixels are generated,
 *    the known ones are kept exactly except in a band of 3 sigma along the seam.
 */
import { checkInteger, checkOneOf, describeValue, isPlainObject } from '../arguments.js';
import { ArgumentError } from '../errors.js';
import { rgbaToRGBFloat, rgbFloatToRGBA, type RGBAImage } from '../io/png.js';
import { imageTokenCount, latentSize, type MaskGITConfig } from './config.js';
import { decodeTokens } from './decode.js';
import type { MaskGITModel } from './load.js';
import { checkBatch, checkClass, checkModel, decodePixels, logitsModel, samplingDecodeOptions, splitRows, type GenerateProgress, type SamplingOptions } from './pipeline.js';

/** A rectangle in pixels. */
export interface PixelBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * Which pixels to regenerate: an RGBA image (data of width x height x 4 bytes; a pixel is
 * masked when its grey level, the mean of R, G and B times alpha / 255, is at least 128: white
 * = regenerate), or one entry per pixel (width x height; nonzero or true = regenerate).
 */
export type PixelMask = RGBAImage | { width: number; height: number; data: Uint8Array | readonly boolean[] };

/**
 * Options of every edit. Defaults differ from generation's: 12 steps from step 2 (the official
 * editing recipe; from step 0 when steps <= 2).
 */
export interface EditOptions extends SamplingOptions {
  /** Variants to make (image i uses seed + i). Default 1. */
  batch?: number;
  /** Standard deviation (pixels) of the blend mask's blur. Default max(0, S/16 - 1). */
  blurRadius?: number;
}

export interface InpaintOptions extends EditOptions {
  /** The class label the regenerated tokens are conditioned on. */
  class: number;
}

export type OutpaintSide = 'left' | 'right' | 'top' | 'bottom';

export interface OutpaintOptions extends EditOptions {
  side: OutpaintSide;
  /** Pixels to add on that side. */
  amount: number;
  class: number;
}

export interface EditResult {
  /** The edited images, 8-bit RGBA, the input's size. */
  images: RGBAImage[];
  /** Per image: the final image tokens. */
  tokens: Int32Array[];
  /** The input's tokens (what every token outside tokenMask keeps). */
  inputTokens: Int32Array;
  /** Per token, 1 where it was regenerated. */
  tokenMask: Uint8Array;
  /** Per pixel, the weight m of the generated image in the blend. */
  blendMask: Float32Array;
}

/** One model-sized window of an outpainting, in the output's pixel coordinates. */
export interface OutpaintWindow {
  /** Where the window lies in the output (it may reach past the output where extra new rows or columns were cropped). */
  box: PixelBox;
  /** Per token of the window, 1 where it was generated (the new columns or rows). */
  tokenMask: Uint8Array;
  /** Per image: the window's tokens before decoding (the known part encoded, the mask id elsewhere). */
  inputTokens: Int32Array[];
  /** Per image: the window's final tokens. */
  tokens: Int32Array[];
}

export interface OutpaintResult {
  /** The outpainted images: the input's size plus `amount` on `side`. */
  images: RGBAImage[];
  windows: OutpaintWindow[];
}

/** The editing defaults of the official recipe: 12 steps, starting at step 2. */
const EDIT_DEFAULTS = { steps: 12, startStep: 2 };
/** Outputs of outpainting are at most this many model sizes along the extended side. */
const MAX_OUTPAINT_FACTOR = 32;
/** Window w of an outpainting draws with seed + w * this (mod 2^32): windows do not share noise. */
const WINDOW_SEED_STRIDE = 0x9e3779b9;

// ------------------------------------------------------------------ masks and blending (host)

/** What a canvas's ImageData holds: the same bytes can be viewed as a Uint8Array without a copy. */
const CLAMPED_DATA = `data is a Uint8ClampedArray (a canvas's ImageData); pass { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) }`;

/** Throws ArgumentError unless `image` is an RGBAImage (`name` names it). */
export function checkImage(name: string, image: unknown): asserts image is RGBAImage {
  if (!isPlainObject(image)) throw new ArgumentError(name, `must be an RGBA image { width, height, data }, got ${describeValue(image)}`);
  const { width, height, data } = image;
  if (typeof width !== 'number' || typeof height !== 'number' || !Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1) {
    throw new ArgumentError(name, `width and height must be positive integers, got ${describeValue(width)} x ${describeValue(height)}`);
  }
  if (data instanceof Uint8ClampedArray) {
    throw new ArgumentError(name, CLAMPED_DATA);
  }
  if (!(data instanceof Uint8Array) || data.length !== width * height * 4) {
    throw new ArgumentError(name, `data must be a Uint8Array of width x height x 4 = ${width * height * 4} bytes (RGBA), got ${describeValue(data)}${data instanceof Uint8Array ? ` of ${data.length}` : ''}`);
  }
}

/** A pixel mask as one 0/1 byte per pixel, checked against the image's size. */
export function pixelMask(mask: PixelMask, width: number, height: number, name = 'mask'): Uint8Array {
  if (!isPlainObject(mask)) throw new ArgumentError(name, `must be an RGBA image or { width, height, data } with one entry per pixel, got ${describeValue(mask)}`);
  const { width: w, height: h, data } = mask as { width: unknown; height: unknown; data: unknown };
  if (w !== width || h !== height) {
    throw new ArgumentError(name, `is ${describeValue(w)}x${describeValue(h)} pixels but the image is ${width}x${height}: give a mask of the image's size`);
  }
  const n = width * height;
  const out = new Uint8Array(n);
  if (data instanceof Uint8Array && data.length === n * 4) {
    for (let i = 0; i < n; i++) out[i] = ((data[i * 4]! + data[i * 4 + 1]! + data[i * 4 + 2]!) / 3) * (data[i * 4 + 3]! / 255) >= 128 ? 1 : 0;
  } else if ((data instanceof Uint8Array || Array.isArray(data)) && data.length === n) {
    for (let i = 0; i < n; i++) out[i] = data[i] ? 1 : 0;
  } else if (data instanceof Uint8ClampedArray) {
    throw new ArgumentError(name, CLAMPED_DATA);
  } else {
    throw new ArgumentError(name, `data must hold ${n} entries (one per pixel) or ${n * 4} bytes (RGBA), got ${describeValue(data)}`);
  }
  return out;
}

/** Token mask (grid height/f x width/f) from a pixel mask: a token is masked when any of its pixels is. */
export function tokenMaskFromPixels(pixels: Uint8Array, width: number, height: number, f: number): Uint8Array {
  const gw = width / f;
  const gh = height / f;
  const out = new Uint8Array(gw * gh);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) if (pixels[y * width + x]) out[Math.floor(y / f) * gw + Math.floor(x / f)] = 1;
  }
  return out;
}

/**
 * The official editing recipe's latent box: the tokens covering the pixel box, dilated by
 * one token on each side, clipped to the grid. Rows [top, bottom), columns [left, right).
 * (The official code computes the far edge as floor(height/16) + floor(top/16) + 1; for box
 * edges on the token grid that is this box, otherwise it can stop a token short of the box.)
 */
export function latentBox(box: PixelBox, f: number, gridHeight: number, gridWidth: number): { top: number; left: number; bottom: number; right: number } {
  return {
    top: Math.max(0, Math.floor(box.top / f) - 1),
    left: Math.max(0, Math.floor(box.left / f) - 1),
    bottom: Math.min(gridHeight, Math.ceil((box.top + box.height) / f) + 1),
    right: Math.min(gridWidth, Math.ceil((box.left + box.width) / f) + 1),
  };
}

/** The token mask of a latent box over a grid. */
function boxTokenMask(box: PixelBox, f: number, gh: number, gw: number): Uint8Array {
  const b = latentBox(box, f, gh, gw);
  const out = new Uint8Array(gh * gw);
  for (let r = b.top; r < b.bottom; r++) out.fill(1, r * gw + b.left, r * gw + b.right);
  return out;
}

/** A token mask (grid gw x gh) upsampled to pixels by repetition (nearest): f x f pixels per token. */
export function upsampleTokenMask(tokens: Uint8Array, gw: number, gh: number, f: number): Float32Array {
  const width = gw * f;
  const out = new Float32Array(width * gh * f);
  for (let y = 0; y < gh * f; y++) {
    for (let x = 0; x < width; x++) out[y * width + x] = tokens[Math.floor(y / f) * gw + Math.floor(x / f)]!;
  }
  return out;
}

/** The blend mask's default blur: standard deviation S/16 - 1 pixels (the official recipe), at least 0. */
export function defaultBlurRadius(imageSize: number): number {
  return Math.max(0, imageSize / 16 - 1);
}

/** The normalised 1-D Gaussian of standard deviation sigma, sampled at -r..r with r = ceil(3 sigma). */
export function gaussianKernel(sigma: number): Float64Array {
  if (!(sigma > 0)) return Float64Array.of(1);
  const r = Math.ceil(3 * sigma);
  const k = Float64Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const total = k.reduce((a, b) => a + b, 0);
  return k.map((v) => v / total);
}

/** Separable Gaussian blur of a one-channel image (standard deviation sigma; edges extended). */
export function gaussianBlur(values: Float32Array, width: number, height: number, sigma: number): Float32Array {
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) / 2;
  if (r === 0) return values.slice();
  const rows = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let j = -r; j <= r; j++) s += k[j + r]! * values[y * width + Math.min(width - 1, Math.max(0, x + j))]!;
      rows[y * width + x] = s;
    }
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let j = -r; j <= r; j++) s += k[j + r]! * rows[Math.min(height - 1, Math.max(0, y + j)) * width + x]!;
      out[y * width + x] = s;
    }
  }
  return out;
}

/** out = generated * m + input * (1 - m), per pixel over RGB (HWC floats). */
export function blendPixels(generated: Float32Array, input: Float32Array, m: Float32Array): Float32Array {
  const out = new Float32Array(input.length);
  for (let p = 0; p < m.length; p++) {
    const w = m[p]!;
    for (let c = 0; c < 3; c++) out[p * 3 + c] = w === 0 ? input[p * 3 + c]! : w === 1 ? generated[p * 3 + c]! : generated[p * 3 + c]! * w + input[p * 3 + c]! * (1 - w);
  }
  return out;
}

function maximumInPlace(a: Float32Array, b: ArrayLike<number>): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = Math.max(a[i]!, b[i]!);
  return a;
}

// ------------------------------------------------------------------ shared checks and steps

interface EditPlan {
  label: number;
  batch: number;
  sigma: number;
  decode: ReturnType<typeof samplingDecodeOptions>;
}

function checkEditOptions(model: MaskGITModel, options: EditOptions, label: unknown, labelName: string): EditPlan {
  if (!isPlainObject(options)) throw new ArgumentError('options', `must be an object of options, got ${describeValue(options)}`);
  checkClass(model.config, labelName, label);
  const batch = checkBatch(model, options.batch);
  const sigma = options.blurRadius ?? defaultBlurRadius(model.config.imageSize);
  if (typeof sigma !== 'number' || !Number.isFinite(sigma) || sigma < 0 || sigma > 4 * model.config.imageSize) {
    throw new ArgumentError('blurRadius', `must be a number in [0, ${4 * model.config.imageSize}] (pixels), got ${describeValue(sigma)}`);
  }
  return { label, batch, sigma, decode: samplingDecodeOptions(model.config, options, EDIT_DEFAULTS) };
}

function mod32(x: number): number {
  return ((x % 2 ** 32) + 2 ** 32) % 2 ** 32;
}

/** The seed of image i in window w (window 0: seed + i, as for generation). */
function editSeeds(seed: number, batch: number, window = 0): number[] {
  return Array.from({ length: batch }, (_, i) => mod32(mod32(seed) + i + window * WINDOW_SEED_STRIDE));
}

/** Encodes B equally sized RGB float images (HWC) to their tokens. */
async function encodePixels(model: MaskGITModel, images: readonly Float32Array[], width: number, height: number): Promise<Int32Array[]> {
  const flat = new Float32Array(images.length * width * height * 3);
  images.forEach((p, b) => flat.set(p, b * width * height * 3));
  const pixels = model.engine.tensor(flat, [images.length, height, width, 3]);
  try {
    const tokens = model.tokenizer.encode(pixels);
    const data = await tokens.read();
    tokens.dispose();
    return splitRows(data, images.length);
  } finally {
    pixels.dispose();
  }
}

/**
 * Decodes B images from their known tokens (the mask id where to generate) with one label,
 * then decodes them to pixels. Returns the final tokens and RGB floats per image.
 */
async function decodeEdit(
  model: MaskGITModel,
  known: readonly Int32Array[],
  plan: EditPlan,
  seeds: readonly number[],
  onProgress: SamplingOptions['onProgress'],
  progressExtra: Partial<GenerateProgress> = {},
): Promise<{ tokens: Int32Array[]; pixels: Float32Array[] }> {
  const n = imageTokenCount(model.config);
  const initial = new Int32Array(known.length * n);
  known.forEach((t, b) => initial.set(t, b * n));
  const { seed: _seed, ...decode } = plan.decode;
  const result = await decodeTokens(logitsModel(model), model.config, {
    ...decode,
    classes: new Array<number>(known.length).fill(plan.label),
    seeds,
    initialTokens: initial,
    output: 'image',
    ...(onProgress ? { onStep: (info) => onProgress({ step: info.step + 1, steps: info.steps, ...progressExtra }) } : {}),
  });
  try {
    const pixels = await decodePixels(model, result);
    return { tokens: splitRows(await result.read(), known.length), pixels };
  } finally {
    result.dispose();
  }
}

/** The input tokens with the mask id where `mask` is set. */
function maskTokens(tokens: Int32Array, mask: Uint8Array, maskId: number): Int32Array {
  return tokens.map((t, i) => (mask[i] ? maskId : t));
}

function grid(config: MaskGITConfig): { S: number; f: number; g: number } {
  const g = latentSize(config);
  return { S: config.imageSize, f: config.imageSize / g, g };
}

/** Encodes the image, regenerates the masked tokens, blends: the part inpaint and editBox share. */
async function editImage(model: MaskGITModel, image: RGBAImage, tokenMask: Uint8Array, pixelMaskForBlend: Uint8Array | null, plan: EditPlan, options: SamplingOptions): Promise<EditResult> {
  const { S, f, g } = grid(model.config);
  const input = rgbaToRGBFloat(image);
  const [inputTokens] = await encodePixels(model, [input], S, S);
  const known = maskTokens(inputTokens!, tokenMask, model.config.maskTokenId);
  const { tokens, pixels } = await decodeEdit(model, new Array<Int32Array>(plan.batch).fill(known), plan, editSeeds(plan.decode.seed, plan.batch), options.onProgress);
  const blendMask = gaussianBlur(upsampleTokenMask(tokenMask, g, g, f), S, S, plan.sigma);
  if (pixelMaskForBlend) maximumInPlace(blendMask, pixelMaskForBlend);
  const images = pixels.map((p) => rgbFloatToRGBA(blendPixels(p, input, blendMask), S, S));
  return { images, tokens, inputTokens: inputTokens!, tokenMask, blendMask };
}

// ------------------------------------------------------------------ inpaint, editBox, outpaint

/**
 * Regenerates the masked part of an image (mask white / true = regenerate), conditioned on
 * `options.class`. The image must be the model's size (ArgumentError saying which otherwise);
 * the mask the image's. A token is regenerated when any of its pixels is masked; every other
 * token is kept. Blend: m = max(pixel mask, blurred token mask) (see the top of this file).
 * Defaults: 12 steps from step 2 (the official editing recipe).
 */
export async function inpaint(model: MaskGITModel, image: RGBAImage, mask: PixelMask, options: InpaintOptions): Promise<EditResult> {
  checkModel(model);
  checkImage('image', image);
  const { S, f } = grid(model.config);
  checkEditImage(model.config, image);
  const pixels = pixelMask(mask, image.width, image.height);
  const tokenMask = tokenMaskFromPixels(pixels, S, S, f);
  if (!tokenMask.includes(1)) throw new ArgumentError('mask', 'masks no pixel (white = regenerate): there is nothing to inpaint');
  const plan = checkEditOptions(model, options, isPlainObject(options) ? options.class : undefined, 'class');
  return editImage(model, image, tokenMask, pixels, plan, options);
}

/**
 * The official class-conditional box edit: the tokens of the box dilated by one token on each
 * side (latentBox) are regenerated conditioned on `targetClass`, from step 2 of 12; the result
 * is blended with m = the latent box upsampled and Gaussian-blurred (standard deviation
 * S/16 - 1). The image must be the model's size.
 */
export async function editBox(model: MaskGITModel, image: RGBAImage, box: PixelBox, targetClass: number, options: EditOptions = {}): Promise<EditResult> {
  checkModel(model);
  checkImage('image', image);
  const { S, f, g } = grid(model.config);
  checkEditImage(model.config, image);
  checkBox(box, S, S);
  const plan = checkEditOptions(model, options, targetClass, 'targetClass');
  return editImage(model, image, boxTokenMask(box, f, g, g), null, plan, options);
}

/** Throws ArgumentError('box') unless the box is integers inside a width x height image. */
export function checkBox(box: unknown, width: number, height: number): asserts box is PixelBox {
  if (!isPlainObject(box)) throw new ArgumentError('box', `must be { top, left, height, width } in pixels, got ${describeValue(box)}`);
  const { top, left, height: h, width: w } = box;
  for (const [name, v] of Object.entries({ top, left, height: h, width: w })) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < (name === 'top' || name === 'left' ? 0 : 1)) {
      throw new ArgumentError('box', `${name} must be an integer >= ${name === 'top' || name === 'left' ? 0 : 1}, got ${describeValue(v)}`);
    }
  }
  const b = box as unknown as PixelBox;
  if (b.top + b.height > height || b.left + b.width > width) {
    throw new ArgumentError('box', `rows ${b.top}..${b.top + b.height - 1}, columns ${b.left}..${b.left + b.width - 1} reach outside the ${width}x${height} image`);
  }
}

/**
 * Checks an outpainting's input against a model: the side, the amount (1 to 32 model sizes),
 * and the image's size (the model's across the side, at least half of it along the side).
 */
export function checkOutpaintInput(config: MaskGITConfig, image: { width: number; height: number }, side: unknown, amount: unknown): asserts side is OutpaintSide {
  const { S, f, g } = grid(config);
  checkOneOf('side', side, ['left', 'right', 'top', 'bottom']);
  if (side === undefined) throw new ArgumentError('side', 'is required: "left", "right", "top" or "bottom"');
  if (g < 2) throw new ArgumentError('model', `has a ${g}x${g} token grid; outpainting needs at least 2x2`);
  const horizontal = side === 'left' || side === 'right';
  const minAlong = f * Math.ceil(g / 2);
  const along = horizontal ? image.width : image.height;
  const across = horizontal ? image.height : image.width;
  if (across !== S || along < minAlong) {
    const need = horizontal ? `a height of ${S} and a width of at least ${minAlong}` : `a width of ${S} and a height of at least ${minAlong}`;
    throw new ArgumentError('image', `is ${image.width}x${image.height} pixels; outpainting to the ${side} with this model needs ${need}: resize or crop it first`);
  }
  checkInteger('amount', amount, 1, MAX_OUTPAINT_FACTOR * S);
}

/** Checks that an image to inpaint or edit has the model's size (no resizing: the caller decides how). */
export function checkEditImage(config: MaskGITConfig, image: { width: number; height: number }): void {
  const S = config.imageSize;
  if (image.width !== S || image.height !== S) {
    throw new ArgumentError('image', `is ${image.width}x${image.height} pixels; this model takes ${S}x${S} images: resize or crop it to that size first`);
  }
}

interface WindowStep {
  /** New token columns (or rows) generated in this window. */
  k: number;
  /** New pixels kept (the rest of the k * f is cropped). */
  keep: number;
}

/**
 * The windows of an outpainting of `amount` pixels from an extended side of `along` pixels:
 * each window is S pixels along the side, its known part taken from the edge of what exists,
 * at most half of it new (and more when the existing side is shorter than S - new).
 */
function planWindows(along: number, amount: number, f: number, g: number): WindowStep[] {
  const steps: WindowStep[] = [];
  const S = f * g;
  for (let remaining = amount; remaining > 0; ) {
    const k = Math.max(Math.min(Math.ceil(remaining / f), Math.floor(g / 2)), Math.ceil((S - along) / f));
    const keep = Math.min(k * f, remaining);
    steps.push({ k, keep });
    remaining -= keep;
    along += keep;
  }
  return steps;
}

/** Copies a w x h block of an RGB float image (width `srcWidth`) at (x, y). */
function crop(src: Float32Array, srcWidth: number, x: number, y: number, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h * 3);
  for (let r = 0; r < h; r++) out.set(src.subarray(((y + r) * srcWidth + x) * 3, ((y + r) * srcWidth + x + w) * 3), r * w * 3);
  return out;
}

/**
 * Extends an image by `amount` pixels on `side`, as in the paper's extrapolation: model-sized
 * windows slide outward, each overlapping the existing content by at least half its size:
 * the known part (the S - n pixels at the edge) is encoded, the n new columns (rows) are
 * masked, the window is decoded and blended in (m = max(new region, blurred token mask), so
 * the input is kept exactly away from the seams), then the next window starts from the new
 * edge. The image must be the model's size across the side (its height for left/right) and
 * at least half of it along the side. Window w of image i draws with seed + i + w * 0x9e3779b9.
 */
export async function outpaint(model: MaskGITModel, image: RGBAImage, options: OutpaintOptions): Promise<OutpaintResult> {
  checkModel(model);
  checkImage('image', image);
  if (!isPlainObject(options)) throw new ArgumentError('options', `must be an object of options, got ${describeValue(options)}`);
  const { S, f, g } = grid(model.config);
  const side = options.side;
  checkOutpaintInput(model.config, image, side, options.amount);
  const horizontal = side === 'left' || side === 'right';
  const along = horizontal ? image.width : image.height;
  const plan = checkEditOptions(model, options, options.class, 'class');
  const maskId = model.config.maskTokenId;
  const steps = planWindows(along, options.amount, f, g);

  let cw = image.width;
  let ch = image.height;
  let canvases = new Array<Float32Array>(plan.batch).fill(rgbaToRGBFloat(image));
  const windows: OutpaintWindow[] = [];
  for (let w = 0; w < steps.length; w++) {
    const { k, keep } = steps[w]!;
    const n = k * f;
    // The known part, in the current canvas: the S - n pixels at the edge being extended.
    const kx = side === 'right' ? cw - (S - n) : 0;
    const ky = side === 'bottom' ? ch - (S - n) : 0;
    const kw = horizontal ? S - n : S;
    const kh = horizontal ? S : S - n;
    const known = await encodePixels(model, canvases.map((c) => crop(c, cw, kx, ky, kw, kh)), kw, kh);
    const tokenMask = new Uint8Array(g * g);
    const windowTokens = known.map((kt) => {
      const out = new Int32Array(g * g);
      for (let r = 0; r < g; r++) {
        for (let c = 0; c < g; c++) {
          const isNew = side === 'right' ? c >= g - k : side === 'left' ? c < k : side === 'bottom' ? r >= g - k : r < k;
          tokenMask[r * g + c] = isNew ? 1 : 0;
          if (isNew) out[r * g + c] = maskId;
          else if (horizontal) out[r * g + c] = kt[r * (g - k) + c - (side === 'left' ? k : 0)]!;
          else out[r * g + c] = kt[(r - (side === 'top' ? k : 0)) * g + c]!;
        }
      }
      return out;
    });
    const { tokens, pixels } = await decodeEdit(model, windowTokens, plan, editSeeds(plan.decode.seed, plan.batch, w), options.onProgress, { window: w + 1, windows: steps.length });
    // The grown canvas: the old one placed (shifted by `keep` when growing left or up), then the window blended over it.
    const nw = horizontal ? cw + keep : cw;
    const nh = horizontal ? ch : ch + keep;
    const ox = side === 'left' ? keep : 0;
    const oy = side === 'top' ? keep : 0;
    const wx = side === 'right' ? kx : side === 'left' ? keep - n : 0;
    const wy = side === 'bottom' ? ky : side === 'top' ? keep - n : 0;
    const newRegion = upsampleTokenMask(tokenMask, g, g, f);
    const m = maximumInPlace(gaussianBlur(newRegion, S, S, plan.sigma), newRegion);
    canvases = canvases.map((old, b) => {
      const grown = new Float32Array(nw * nh * 3);
      for (let r = 0; r < ch; r++) grown.set(old.subarray(r * cw * 3, (r + 1) * cw * 3), ((r + oy) * nw + ox) * 3);
      const gen = pixels[b]!;
      for (let y = Math.max(0, wy); y < Math.min(nh, wy + S); y++) {
        for (let x = Math.max(0, wx); x < Math.min(nw, wx + S); x++) {
          const p = (y - wy) * S + (x - wx);
          const weight = m[p]!;
          if (weight === 0) continue;
          for (let c = 0; c < 3; c++) grown[(y * nw + x) * 3 + c] = gen[p * 3 + c]! * weight + grown[(y * nw + x) * 3 + c]! * (1 - weight);
        }
      }
      return grown;
    });
    // Earlier windows move with the canvas when it grows left or up.
    for (const earlier of windows) {
      earlier.box.left += ox;
      earlier.box.top += oy;
    }
    windows.push({ box: { top: wy, left: wx, height: S, width: S }, tokenMask, inputTokens: windowTokens, tokens });
    cw = nw;
    ch = nh;
  }
  return { images: canvases.map((c) => rgbFloatToRGBA(c, cw, ch)), windows };
}
