// What `maskgit generate | inpaint | outpaint | edit` share: the sampling flags, checking
// everything against the model's config.json before any weight is read, loading the model with
// progress, reading input PNGs and writing outputs atomically.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { ArgumentError, CheckpointError } from '../../errors.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { modelContents, readModelConfig, type ModelFolderConfig } from '../../io/model.js';
import { localModelFolder } from '../../io/node-files.js';
import { decodePNG, encodePNG, imageGrid, type RGBAImage } from '../../io/png.js';
import { loadMaskGIT, type LoadedMaskGIT } from '../../maskgit/load.js';
import { samplingDecodeOptions, type SamplingOptions } from '../../maskgit/pipeline.js';
import type { MaskSchedule } from '../../maskgit/schedule.js';
import { createEngine } from '../../tensor/engine.js';
import type { Output } from '../output.js';
import { progressReporter, stepBar } from '../progress.js';

/** The flags every generating command takes (commander's camel-cased names). */
export interface SamplingFlags {
  model?: string;
  out?: string;
  seed?: string;
  steps?: string;
  startStep?: string;
  schedule?: string;
  sampleTemperature?: string;
  choiceTemperature?: string;
  topK?: string;
  topP?: string;
  guidance?: string;
  batch?: string;
  tokensOut?: string;
  dtype: string;
}

/** Library argument names -> the flags that set them, so errors name what the user typed. */
const FLAG_OF: Record<string, string> = {
  steps: '--steps',
  startStep: '--start-step',
  schedule: '--schedule',
  sampleTemperature: '--sample-temperature',
  choiceTemperature: '--choice-temperature',
  topK: '--top-k',
  topP: '--top-p',
  guidance: '--guidance',
  'guidance.scale': '--guidance',
  seed: '--seed',
  batch: '--batch',
  classes: '--class',
  class: '--class',
  targetClass: '--class',
  image: '--image',
  mask: '--mask',
  box: '--box',
  side: '--side',
  amount: '--amount',
  blurRadius: '--blur-radius',
};

/** Runs `fn`, renaming an ArgumentError's argument to the flag that set it. */
export async function asFlags<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof ArgumentError && FLAG_OF[error.argument]) {
      throw new ArgumentError(FLAG_OF[error.argument]!, error.message.slice(error.argument.length + 2));
    }
    throw error;
  }
}

/** Adds the sampling flags to a command. */
export function samplingFlags(command: Command, defaults: { steps: string; startStep: string }, tokensOut = true): Command {
  command
    .option('--model <dir>', 'model folder (config.json + model.safetensors; make one with `maskgit convert`)')
    .option('--out <file.png>', 'output PNG (a grid when --batch > 1); written atomically')
    .option('--batch <n>', 'images to make (default: one per --class label); image i uses seed + i')
    .option('--seed <n>', 'random seed (image i of a batch uses seed + i)', '0')
    .option('--steps <n>', `decode steps T (default ${defaults.steps})`)
    .option('--start-step <t>', `first step run (default ${defaults.startStep})`);
  decodeFlags(command).option('--dtype <dtype>', 'weights on the GPU: auto (the file\'s), f32 or f16', 'auto');
  if (tokensOut) command.option('--tokens-out <file.json>', 'also write the final image tokens as JSON (one array per image when batched)');
  return command;
}

/** Adds the flags that tune the decode itself (schedule, temperatures, top-k/p, guidance). */
export function decodeFlags(command: Command): Command {
  return command
    .option('--schedule <name>', 'mask schedule: linear, cosine, square, cubic, sqrt, log, exp (pow<e> too)', 'cosine')
    .option('--sample-temperature <t>', 'temperature of the token draw; 0 = argmax', '1')
    .option('--choice-temperature <t>', 'scale of the confidence noise; 0 = none', '4.5')
    .option('--top-k <k>', 'draw among the k most likely tokens only (0 = off)')
    .option('--top-p <p>', 'draw within the top-p probability mass only (1 = off)')
    .option('--guidance <scale>', 'classifier-free guidance scale (models with a null class)');
}

/** The options set by decodeFlags' flags (checked by the library when used). */
export function decodeOptions(flags: Pick<SamplingFlags, 'schedule' | 'sampleTemperature' | 'choiceTemperature' | 'topK' | 'topP' | 'guidance'>): Omit<SamplingOptions, 'seed' | 'steps' | 'onProgress'> {
  const topK = integerFlag('--top-k', flags.topK, 0);
  const topP = numberFlag('--top-p', flags.topP);
  const guidance = numberFlag('--guidance', flags.guidance);
  return {
    schedule: (flags.schedule ?? 'cosine') as MaskSchedule,
    sampleTemperature: numberFlag('--sample-temperature', flags.sampleTemperature)!,
    choiceTemperature: numberFlag('--choice-temperature', flags.choiceTemperature)!,
    ...(topK !== undefined ? { topK } : {}),
    ...(topP !== undefined ? { topP } : {}),
    ...(guidance !== undefined ? { guidance } : {}),
  };
}

/** A number flag: an integer in [min, max] (undefined when not given). */
export function integerFlag(name: string, value: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ArgumentError(name, `must be an integer${max === Number.MAX_SAFE_INTEGER ? ` >= ${min}` : ` in [${min}, ${max}]`}, got "${value}"`);
  }
  return n;
}

function numberFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new ArgumentError(name, `must be a number, got "${value}"`);
  return n;
}

export function requiredFlag(name: string, value: string | undefined, example: string): string {
  if (value === undefined || value === '') throw new ArgumentError(name, `is required (e.g. ${name} ${example})`);
  return value;
}

/** Class labels: integers in [0, numClasses) separated by commas. */
export function classFlag(config: ModelFolderConfig, value: string | undefined, many: boolean): number[] {
  const text = requiredFlag('--class', value, many ? '207 or --class 207,360' : '207');
  // "all": one image per class, in label order, but the null class (guidance's "no class").
  if (many && text.trim() === 'all') return Array.from({ length: config.numClasses }, (_, i) => i).filter((i) => i !== config.nullClassId);
  const labels = text.split(',').map((part) => Number(part.trim()));
  if (!many && labels.length !== 1) throw new ArgumentError('--class', `takes one class label, got "${text}"`);
  for (const [i, label] of labels.entries()) {
    if (!Number.isInteger(label) || label < 0 || label >= config.numClasses) {
      const name = config.classNames ? ` (${config.classNames.slice(0, 3).map((n, k) => `${k}: ${n}`).join(', ')}, ...)` : '';
      throw new ArgumentError('--class', `unknown class "${text.split(',')[i]!.trim()}": this model has ${config.numClasses} classes, 0 to ${config.numClasses - 1}${name}`);
    }
  }
  return labels;
}

/**
 * Reads a model folder's config.json, which must hold both parts (a missing folder, or one
 * with the tokenizer or the transformer only, is a usage error saying how to make a whole one;
 * a malformed one a model-file error).
 */
export async function readConfig(dir: string): Promise<ModelFolderConfig> {
  let config: ModelFolderConfig;
  try {
    config = await readModelConfig(localModelFolder(dir));
  } catch (error) {
    if (error instanceof CheckpointError && !existsSync(dir)) {
      throw new ArgumentError('--model', `${dir} does not exist; give a model folder (make one with \`maskgit convert <checkpoints> --out <dir>\` or \`maskgit train\`)`);
    }
    throw error;
  }
  const parts = modelContents(config);
  if (!parts.includes('transformer')) {
    throw new ArgumentError('--model', `${dir} holds a tokenizer but no transformer; train one over it with \`maskgit train --tokenizer ${dir} --out <run>\` and use <run>/model`);
  }
  if (!parts.includes('tokenizer')) {
    throw new ArgumentError('--model', `${dir} holds a transformer but no tokenizer; convert both official checkpoints into one folder (\`maskgit convert <transformer> <tokenizer> --out <dir>\`)`);
  }
  return config;
}

/** Checks an output path: not an existing folder. */
export async function checkOutput(name: string, path: string | undefined): Promise<void> {
  if (path === undefined) return;
  if (path === '') throw new ArgumentError(name, 'is empty; give a file name');
  const info = await stat(path).catch(() => null);
  if (info?.isDirectory()) throw new ArgumentError(name, `${path} is a folder; give a file name (e.g. ${path}/out.png)`);
}

/** Reads and decodes an input PNG; a missing or unreadable file is an ArgumentError naming the flag. */
export async function readPNG(name: string, path: string): Promise<RGBAImage> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ArgumentError(name, code === 'ENOENT' ? `${path} does not exist` : code === 'EISDIR' ? `${path} is a folder, not a PNG file` : `${path} cannot be read (${code ?? String(error)})`);
  }
  return decodePNG(bytes, name);
}

/** The sampling options from the flags, checked against the model's config. */
export function samplingOptions(config: ModelFolderConfig, flags: SamplingFlags, defaults: { steps: number; startStep: number }): SamplingOptions & { batch?: number } {
  const steps = integerFlag('--steps', flags.steps, 1, 1024);
  const startStep = integerFlag('--start-step', flags.startStep, 0, 1023);
  const batch = integerFlag('--batch', flags.batch, 1, 4096);
  const options: SamplingOptions & { batch?: number } = {
    ...(batch !== undefined ? { batch } : {}),
    seed: integerFlag('--seed', flags.seed, -(2 ** 53) + 1)!,
    ...decodeOptions(flags),
    ...(steps !== undefined ? { steps } : {}),
    ...(startStep !== undefined ? { startStep } : {}),
  };
  samplingDecodeOptions(config, options, defaults);
  return options;
}

/** Loads the model with a progress bar per file (the config was read and checked already). */
export async function loadModel(out: Output, dir: string, dtype: string): Promise<LoadedMaskGIT> {
  if (dtype !== 'auto' && dtype !== 'f32' && dtype !== 'f16') throw new ArgumentError('--dtype', `must be auto, f32 or f16, got "${dtype}"`);
  const engine = await createEngine();
  const loading = progressReporter(out, 'loading');
  try {
    return await loadMaskGIT(engine, dir, { dtype, onProgress: loading.onProgress });
  } finally {
    loading.stop();
  }
}

/** A progress callback drawing a step bar (with the window for outpainting). */
export function stepProgress(out: Output, label: string): { onProgress: SamplingOptions['onProgress']; stop(): void } {
  const bar = stepBar(out, label);
  return {
    onProgress: (p) => bar.update(p.step, p.steps, p.windows ? `, window ${p.window}/${p.windows}` : ''),
    stop: () => bar.stop(),
  };
}

/** Writes images as one PNG: the image itself, or a grid of ceil(sqrt(B)) columns. */
export async function writeImages(path: string, images: readonly RGBAImage[], columns = Math.ceil(Math.sqrt(images.length))): Promise<RGBAImage> {
  const picture = images.length === 1 ? images[0]! : imageGrid(images, columns);
  await writeFileAtomic(path, encodePNG(picture));
  return picture;
}

/** Writes tokens as JSON: one array, or one per image when batched. */
export async function writeTokens(path: string, tokens: readonly Int32Array[]): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(tokens.length === 1 ? [...tokens[0]!] : tokens.map((t) => [...t])) + '\n');
}

/** The one-line human summary and the JSON result of a run. */
export function report(out: Output, summary: { out: string; images: number; width: number; height: number; seconds: number; files: string[] } & Record<string, unknown>): void {
  out.result(summary, () => `wrote ${summary.files.join(', ')} (${summary.images} image${summary.images === 1 ? '' : 's'} of ${summary.width}x${summary.height}) in ${summary.seconds} s`);
}

/** Seconds since `started`, to two decimals. */
export function secondsSince(started: number): number {
  return Number(((performance.now() - started) / 1000).toFixed(2));
}
