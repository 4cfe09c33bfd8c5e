/**
 * MaskGIT as users call it (shaped like diffusers / transformers.js pipelines): a model, a
 * call with options and a progress callback, 8-bit RGBA images back. `generate` decodes
 * class-conditional images; editing (inpaint, outpaint, editBox) lives in edit.ts on the same
 * pieces: the GPU decode loop (decode.ts) and the VQGAN tokenizer.
 */
import { checkFunction, checkInteger, describeValue, isPlainObject } from '../arguments.js';
import { ArgumentError } from '../errors.js';
import { rgbFloatToRGBA, type RGBAImage } from '../io/png.js';
import type { Tensor } from '../tensor/tensor.js';
import { imageTokenCount, type MaskGITConfig } from './config.js';
import { checkSamplingOptions, decodeTokens, defaultSteps, type DecodeOptions, type DecodeStepInfo, type GuidanceOptions, type LogitsModel } from './decode.js';
import type { MaskGITModel } from './load.js';
import { VQGANTokenizer } from './tokenizer.js';
import { BidirectionalTransformer } from './transformer.js';

/** What a progress callback is told after each decode step. */
export interface GenerateProgress {
  /** Steps completed, counting from 1 (t + 1 for step index t; edits start past startStep). */
  step: number;
  /** T, the schedule's step count. */
  steps: number;
  /** With `frames`: each image's tokens after this step (the mask id where still unknown). */
  tokens?: Int32Array[];
  /** Outpainting: the window being decoded (from 1) and how many there are. */
  window?: number;
  windows?: number;
}

/**
 * The sampler's options, shared by generation and editing: those of decodeTokens (steps,
 * schedule, startStep, temperatures, top-k / top-p), plus a seed, guidance as a number or an
 * object, and a progress callback. Edits default to 12 steps from step 2 (EditOptions).
 */
export interface SamplingOptions extends Pick<DecodeOptions, 'steps' | 'schedule' | 'startStep' | 'sampleTemperature' | 'choiceTemperature' | 'topK' | 'topP'> {
  /** Image i of the batch uses seed + i (so it equals a single-image run with that seed). Default 0. */
  seed?: number;
  /** Classifier-free guidance: a scale, or { scale, ramp }. Needs a model with a null class. */
  guidance?: number | GuidanceOptions;
  /** Called after each decode step (once the GPU has finished it). */
  onProgress?: (progress: GenerateProgress) => void | Promise<void>;
}

export interface GenerateOptions extends SamplingOptions {
  /** One class label per image, or one label for the whole batch. */
  classes: number | readonly number[];
  /** Images to generate. Default: the number of labels (1 for a single label). */
  batch?: number;
  /** Return every step's tokens and sketches (one readback and one VQ decode per step). */
  frames?: boolean;
}

/** One decode step, as `frames` returns it. */
export interface GenerateFrame {
  /** Steps completed (as GenerateProgress.step). */
  step: number;
  /** Per image: the tokens after the step's re-masking (the mask id where unknown). */
  tokens: Int32Array[];
  /** Per image: the step's draws at every position (the "sketch"). */
  sketch: Int32Array[];
  /** Per image: the sketch decoded, the positions still masked drawn as a grey checkerboard. */
  images: RGBAImage[];
}

export interface GenerateResult {
  /** 8-bit RGBA, config.imageSize square. */
  images: RGBAImage[];
  /** Per image: its final image tokens (raster order, no class token). */
  tokens: Int32Array[];
  frames?: GenerateFrame[];
}

/** Images decoded by the VQGAN at once (bounds the decoder's activation memory). */
const VQ_CHUNK = 4;

/** Throws ArgumentError unless `model` is a built MaskGIT (createMaskGIT / loadMaskGIT). */
export function checkModel(model: MaskGITModel): void {
  if (!isPlainObject(model) || !(model.transformer instanceof BidirectionalTransformer) || !(model.tokenizer instanceof VQGANTokenizer) || !isPlainObject(model.config)) {
    throw new ArgumentError('model', `must be a model from loadMaskGIT or createMaskGIT, got ${describeValue(model)}`);
  }
  model.engine.assertAlive();
}

/** The transformer as the decode loop sees it: logits of the codebook entries only. */
export function logitsModel(model: MaskGITModel): LogitsModel {
  const columns = model.config.codebookSize;
  return { engine: model.engine, forward: (tokens) => model.transformer.forward(tokens, { logitsColumns: columns }) };
}

/** Checks one class label (an integer in [0, numClasses)); `name` is the argument's name. */
export function checkClass(config: Pick<MaskGITConfig, 'numClasses'>, name: string, label: unknown): asserts label is number {
  if (typeof label !== 'number' || !Number.isInteger(label) || label < 0 || label >= config.numClasses) {
    throw new ArgumentError(name, `class labels must be integers in [0, ${config.numClasses}), got ${describeValue(label)}`);
  }
}

/**
 * The batch size: `batch` when given (an integer >= 1), else 1. At most as many images as one
 * GPU buffer of token sequences holds (the decode loop's own limit), so that no host array of
 * labels or seeds is built for a batch that could never run.
 */
export function checkBatch(model: MaskGITModel, batch: unknown): number {
  if (batch === undefined) return 1;
  const perImage = (imageTokenCount(model.config) + 1) * 4 * 2; // with guidance: two rows per image
  checkInteger('batch', batch, 1, Math.max(1, Math.floor(model.engine.device.limits.maxStorageBufferBindingSize / perImage)));
  return batch;
}

/** One label per image: a single label (or a list of one) repeated `batch` times, or a list of `batch`. */
function batchClasses(model: MaskGITModel, classes: unknown, batch: unknown): number[] {
  const config = model.config;
  const list = typeof classes === 'number' ? [classes] : classes;
  if (!Array.isArray(list) || list.length === 0) throw new ArgumentError('classes', `give a class label, or one per image, got ${describeValue(classes)}`);
  list.forEach((c: unknown) => checkClass(config, 'classes', c));
  if (batch === undefined) return [...(list as number[])];
  const n = checkBatch(model, batch);
  if (list.length === 1) return new Array<number>(n).fill(list[0] as number);
  if (list.length !== n) throw new ArgumentError('batch', `is ${n} but ${list.length} class labels were given; give one label, or one per image`);
  return [...(list as number[])];
}

function checkSeed(seed: unknown): number {
  if (seed === undefined) return 0;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new ArgumentError('seed', `must be an integer (taken mod 2^32), got ${describeValue(seed)}`);
  return seed;
}

/**
 * Checks the sampling options against a model and turns them into decode options
 * (guidance as an object, the edit defaults applied). Throws before any GPU work.
 */
export function samplingDecodeOptions(
  config: MaskGITConfig,
  options: SamplingOptions,
  defaults: { steps: number; startStep: number },
): Pick<DecodeOptions, 'steps' | 'startStep' | 'schedule' | 'sampleTemperature' | 'choiceTemperature' | 'topK' | 'topP' | 'guidance'> & { seed: number } {
  const seed = checkSeed(options.seed);
  checkFunction('onProgress', options.onProgress);
  let guidance: GuidanceOptions | undefined;
  if (typeof options.guidance === 'number') guidance = { scale: options.guidance };
  else guidance = options.guidance;
  const steps = options.steps ?? defaults.steps;
  const startStep = options.startStep ?? (options.steps !== undefined && options.steps <= defaults.startStep ? 0 : defaults.startStep);
  const decode = {
    steps,
    startStep,
    ...(options.schedule !== undefined ? { schedule: options.schedule } : {}),
    ...(options.sampleTemperature !== undefined ? { sampleTemperature: options.sampleTemperature } : {}),
    ...(options.choiceTemperature !== undefined ? { choiceTemperature: options.choiceTemperature } : {}),
    ...(options.topK !== undefined ? { topK: options.topK } : {}),
    ...(options.topP !== undefined ? { topP: options.topP } : {}),
    ...(guidance !== undefined ? { guidance } : {}),
  };
  checkSamplingOptions(config, decode);
  return { ...decode, seed };
}

/** Splits rows [B * n] (host) into B arrays of n, skipping `skip` leading entries per row. */
export function splitRows(data: Int32Array, batch: number, skip = 0): Int32Array[] {
  const row = data.length / batch;
  return Array.from({ length: batch }, (_, b) => data.slice(b * row + skip, (b + 1) * row));
}

/**
 * Decodes image tokens [B, N] (on the GPU) to RGB floats in [0, 1], one HWC array per
 * image, VQ_CHUNK images at a time.
 */
export async function decodePixels(model: MaskGITModel, tokens: Tensor<'i32'>): Promise<Float32Array[]> {
  const { engine, tokenizer } = model;
  const [batch, n] = tokens.shape as [number, number];
  const side = model.config.imageSize;
  const out: Float32Array[] = [];
  for (let b0 = 0; b0 < batch; b0 += VQ_CHUNK) {
    const count = Math.min(VQ_CHUNK, batch - b0);
    const chunk = engine.empty([count, n], 'i32');
    engine.copy(tokens, b0 * n * 4, chunk, 0, count * n * 4);
    const pixels = tokenizer.decode(chunk);
    chunk.dispose();
    const data = await pixels.read();
    pixels.dispose();
    const size = side * side * 3;
    for (let b = 0; b < count; b++) out.push(data.slice(b * size, (b + 1) * size));
  }
  return out;
}

/** Host image tokens (B arrays of N) decoded to RGB floats. */
export async function decodeHostTokens(model: MaskGITModel, tokens: readonly Int32Array[]): Promise<Float32Array[]> {
  const n = imageTokenCount(model.config);
  const flat = new Int32Array(tokens.length * n);
  tokens.forEach((t, b) => flat.set(t, b * n));
  const t = model.engine.tensor(flat, [tokens.length, n], 'i32');
  try {
    return await decodePixels(model, t);
  } finally {
    t.dispose();
  }
}

/**
 * Draws the token blocks of `masked` positions (value === maskId) as a grey checkerboard
 * over an RGBA image of a square token grid: how frames show what is still unknown.
 */
export function shadeMasked(image: RGBAImage, tokens: Int32Array, maskId: number): RGBAImage {
  const grid = Math.round(Math.sqrt(tokens.length));
  const f = image.width / grid;
  const check = Math.max(1, Math.floor(f / 4));
  const data = image.data.slice();
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      if (tokens[Math.floor(y / f) * grid + Math.floor(x / f)] !== maskId) continue;
      const v = (Math.floor(x / check) + Math.floor(y / check)) % 2 ? 96 : 160;
      const at = (y * image.width + x) * 4;
      data[at] = data[at + 1] = data[at + 2] = v;
      data[at + 3] = 255;
    }
  }
  return { width: image.width, height: image.height, data };
}

/**
 * Generates class-conditional images with MaskGIT's iterative decoding (the official
 * algorithm, decode.ts), then decodes them with the VQGAN. Every option is checked before any
 * GPU work; bad ones throw ArgumentError naming the option.
 *
 * ```ts
 * const model = await loadMaskGIT(engine, 'models/maskgit-256');
 * const { images, tokens } = await generate(model, { classes: [207, 360], seed: 42, steps: 8 });
 * ```
 */
export async function generate(model: MaskGITModel, options: GenerateOptions): Promise<GenerateResult> {
  checkModel(model);
  if (!isPlainObject(options)) throw new ArgumentError('options', `must be an object of options, got ${describeValue(options)}`);
  const config = model.config;
  const classes = batchClasses(model, options.classes, options.batch);
  const n = imageTokenCount(config);
  const sampling = samplingDecodeOptions(config, options, { steps: defaultSteps(n), startStep: 0 });
  if (options.frames !== undefined && typeof options.frames !== 'boolean') throw new ArgumentError('frames', `must be true or false, got ${describeValue(options.frames)}`);
  const frames = options.frames ?? false;
  const batch = classes.length;
  const collected: { step: number; tokens: Int32Array[]; sketch: Int32Array[] }[] = [];
  const onStep = async (info: DecodeStepInfo): Promise<void> => {
    const step = info.step + 1;
    if (!frames) return options.onProgress?.({ step, steps: info.steps });
    const tokens = splitRows(info.tokens!, batch, 1);
    collected.push({ step, tokens, sketch: splitRows(info.sketch!, batch, 1) });
    return options.onProgress?.({ step, steps: info.steps, tokens });
  };
  const { seed, ...decode } = sampling;
  const result = await decodeTokens(logitsModel(model), config, {
    ...decode,
    classes,
    seeds: seed,
    output: 'image',
    frames,
    ...(frames || options.onProgress ? { onStep } : {}),
  });
  let pixels: Float32Array[];
  let tokens: Int32Array;
  try {
    pixels = await decodePixels(model, result);
    tokens = await result.read();
  } finally {
    result.dispose();
  }
  const side = config.imageSize;
  const images = pixels.map((p) => rgbFloatToRGBA(p, side, side));
  const out: GenerateResult = { images, tokens: splitRows(tokens, batch) };
  if (frames) {
    out.frames = [];
    for (const frame of collected) {
      const sketches = await decodeHostTokens(model, frame.sketch);
      const frameImages = sketches.map((p, b) => shadeMasked(rgbFloatToRGBA(p, side, side), frame.tokens[b]!, config.maskTokenId));
      out.frames.push({ ...frame, images: frameImages });
    }
  }
  return out;
}
