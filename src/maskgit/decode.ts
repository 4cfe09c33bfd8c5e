/**
 * The MaskGIT decode loop on the GPU. Every step: the model's logits, then sampleStep
 * (draw + confidence, kernels/sample.wgsl) and remaskByConfidence (the top-k cut and the
 * mask update, kernels/topk.wgsl), recorded into one submit. Nothing is read back until the
 * caller reads the result, unless it asks for per-step frames.
 */
import { checkFunction, checkInteger, describeValue, isPlainObject } from '../arguments.js';
import { ArgumentError, ShapeError } from '../errors.js';
import { Engine } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { imageTokenCount, type MaskGITConfig } from './config.js';
import { imageSeeds } from './rng.js';
import { sampleStep } from './sample.js';
import { checkSchedule, checkSteps, maskCounts, scheduleCuts, stepRatio, type MaskSchedule } from './schedule.js';
import { remaskByConfidence } from './select.js';

/** What the decode loop needs of a transformer. */
export interface LogitsModel {
  /** tokens [B, L] i32 (class token first) -> logits [B, L, vocab] on the GPU. No readback. */
  forward(tokens: Tensor<'i32'>): Tensor;
  /** The engine the model lives on (used when the options name none). */
  readonly engine?: Engine;
}

/** The config fields decoding reads. */
export type DecodeConfig = Pick<MaskGITConfig, 'imageSize' | 'codebookSize' | 'numClasses' | 'maskTokenId' | 'nullClassId' | 'tokenizer'>;

/**
 * Classifier-free guidance: logits = uncond + s_t * (cond - uncond), the conditional and
 * the unconditional (class = config.nullClassId) sequences run as one batch of 2B.
 */
export interface GuidanceOptions {
  /** s; 1 gives the conditional logits, 0 the unconditional ones. */
  scale: number;
  /**
   * 'constant' (default): s_t = scale. 'linear': s_t = 1 + (scale - 1) * t / (T - 1), the
   * ramp of valeoai's port ((1 + w_t) cond - w_t uncond with w_t = w * t / (T - 1), w = scale - 1).
   */
  ramp?: 'constant' | 'linear';
}

export interface DecodeStepInfo {
  /** The step index t (startStep..steps-1). */
  step: number;
  steps: number;
  /** Tokens still masked per image after this step, from the schedule (0 after the last). */
  masked: number[];
  /** frames: the step's draws [B * L] with every position filled (the "sketch"). */
  sketch?: Int32Array;
  /** frames: the tokens after this step's re-masking [B * L] (the mask id where unknown). */
  tokens?: Int32Array;
}

export interface DecodeOptions {
  /** One class label per image (0..numClasses-1); the batch size B. */
  classes: readonly number[];
  /** A number: image i uses seed + i (so it equals a single-image run with that seed). Default 0. */
  seeds?: number | readonly number[];
  /** T. Default 8 (the paper's setting at 256 px), 12 from 32x32 latents (512 px) up (defaultSteps). */
  steps?: number;
  /** Default 'cosine'. */
  schedule?: MaskSchedule;
  /** First step to run (editing starts at 2 of 12). Default 0. */
  startStep?: number;
  /** Temperature of the token draw; 0 takes the argmax. Default 1 (official). */
  sampleTemperature?: number;
  /** Scale of the confidence noise, times (1 - ratio). Default 4.5 (official). */
  choiceTemperature?: number;
  /** Draw only among the k most likely tokens (ties kept). Default off. */
  topK?: number;
  /** Draw only within the top-p mass (after top-k and temperature). Default off. */
  topP?: number;
  guidance?: GuidanceOptions;
  /**
   * Image tokens [B, N] (host array or i32 tensor) with the mask id where a token is to be
   * generated; the rest is kept. Default: all masked. N0 (the schedule's count) is per image.
   */
  initialTokens?: Int32Array | readonly number[] | Tensor<'i32'>;
  /** N0 per image when initialTokens is a tensor (otherwise it is read back once, before the loop). */
  unknownCounts?: readonly number[];
  /** Called once per step, after the GPU has finished it. */
  onStep?: (info: DecodeStepInfo) => void | Promise<void>;
  /** Read each step's tokens back for onStep (one readback per step). */
  frames?: boolean;
  /** 'sequence' (default): [B, L] with the class token first; 'image': the [B, N] image tokens. */
  output?: 'sequence' | 'image';
  engine?: Engine;
}

interface Plan {
  batch: number;
  length: number;
  steps: number;
  start: number;
  guided: boolean;
  counts: number[];
}

/**
 * Decodes B images' tokens with the official MaskGIT algorithm (see REFERENCE.md), on the
 * GPU. Returns the final tokens (every position filled). Per step: at most one queue
 * submit and no readback (unless frames), and no allocation the step's scope does not free.
 */
export async function decodeTokens(model: LogitsModel, config: DecodeConfig, options: DecodeOptions): Promise<Tensor<'i32'>> {
  if (!isPlainObject(model) || typeof model.forward !== 'function') throw new ArgumentError('model', 'must have a forward(tokens) method returning logits');
  if (!isPlainObject(options)) throw new ArgumentError('options', `must be an object of options, got ${describeValue(options)}`);
  const initial = options.initialTokens;
  const engine = options.engine ?? model.engine ?? (isTensor(initial) ? initial.engine : undefined);
  if (!engine) throw new ArgumentError('engine', 'pass options.engine (the model exposes none)');
  if (!(engine instanceof Engine)) throw new ArgumentError('engine', `must be an Engine, got ${describeValue(engine)}`);
  engine.assertAlive();
  checkDecodeConfig(config);
  const plan = await planDecode(engine, config, options);
  const { batch, length, steps, start, guided } = plan;
  const C = config.codebookSize;
  const schedule = options.schedule ?? 'cosine';
  const temperature = options.sampleTemperature ?? 1;
  const choiceTemperature = options.choiceTemperature ?? 4.5;
  const guidance = options.guidance;
  const scaleAt = (t: number): number => {
    if (!guidance) return 1;
    if ((guidance.ramp ?? 'constant') === 'constant') return guidance.scale;
    return 1 + (guidance.scale - 1) * (steps > 1 ? t / (steps - 1) : 1);
  };

  const tokens = initialSequences(engine, config, options, plan);
  const seeds = engine.tensor(imageSeeds(options.seeds, batch), [batch], 'u32');
  // cuts[t, b] = floor(N0_b * gamma((t + 1) / T)); the GPU clamps it with the live unknown count.
  const perImage = plan.counts.map((n) => scheduleCuts(schedule, n, steps));
  const cuts = engine.tensor(Int32Array.from({ length: steps * batch }, (_, k) => perImage[k % batch]![Math.floor(k / batch)]!), [steps, batch], 'i32');
  const out = { sampled: engine.empty([batch, length], 'i32'), confidence: engine.empty([batch, length], 'f32') };
  const frame = options.frames ? engine.empty([2, batch, length], 'i32') : null;
  const predicted = plan.counts.map((n) => maskCounts(schedule, n, steps, start));
  const info = (t: number): DecodeStepInfo => ({ step: t, steps, masked: predicted.map((c) => c[t - start] ?? 0) });

  let pending: { done: Promise<void>; info: DecodeStepInfo } | null = null;
  try {
    for (let t = start; t < steps; t++) {
      // A device lost during the last step's onStep stops the loop here, with DeviceError.
      engine.assertAlive();
      engine.tidy(() => {
        const logits = model.forward(tokens);
        const rows = guided ? 2 * batch : batch;
        if (logits.rank !== 3 || logits.shape[0] !== rows || logits.shape[1] !== length || logits.shape[2]! < C) {
          throw new ShapeError(`decode: the model gave logits [${logits.shape.join(', ')}]; expected [${rows}, ${length}, vocab >= ${C}]`);
        }
        const ratio = stepRatio(t, steps);
        sampleStep(
          logits,
          tokens,
          seeds,
          {
            codebookSize: C,
            maskTokenId: config.maskTokenId,
            step: t,
            temperature,
            choiceScale: Math.fround(choiceTemperature * Math.fround(1 - ratio)),
            topK: options.topK ?? 0,
            topP: options.topP ?? 1,
            ...(guided ? { guidance: scaleAt(t) } : {}),
          },
          out,
        );
        if (t < steps - 1) remaskByConfidence(out.confidence, out.sampled, tokens, cuts, { maskTokenId: config.maskTokenId, step: t, mirror: guided });
      });
      if (frame) {
        const bytes = batch * length * 4;
        engine.copy(out.sampled, 0, frame, 0, bytes);
        engine.copy(tokens, 0, frame, bytes, bytes);
        const data = await frame.read();
        const stepInfo = info(t);
        stepInfo.sketch = data.slice(0, batch * length);
        stepInfo.tokens = t < steps - 1 ? data.slice(batch * length) : stepInfo.sketch;
        await options.onStep?.(stepInfo);
        continue;
      }
      engine.flush();
      if (options.onStep) {
        // Report step t-1 once the GPU has finished it, while step t is already queued.
        const done = engine.workDone();
        done.catch(() => undefined); // awaited below, or dropped when the loop stops first: never unhandled
        if (pending) {
          await pending.done;
          await options.onStep(pending.info);
        }
        pending = { done, info: info(t) };
      }
    }
    if (pending) {
      await pending.done;
      await options.onStep!(pending.info);
    }
  } catch (error) {
    out.sampled.dispose();
    throw error;
  } finally {
    for (const t of [tokens, seeds, cuts, out.confidence, frame]) t?.dispose();
  }
  if ((options.output ?? 'sequence') === 'sequence') return out.sampled;
  const images = engine.empty([batch, length - 1], 'i32');
  for (let b = 0; b < batch; b++) engine.copy(out.sampled, (b * length + 1) * 4, images, b * (length - 1) * 4, (length - 1) * 4);
  out.sampled.dispose();
  return images;
}

function isTensor(x: unknown): x is Tensor<'i32'> {
  return x instanceof Tensor;
}

/** The config fields decoding reads, checked (a full MaskGITConfig is checked by validateConfig). */
function checkDecodeConfig(config: DecodeConfig): void {
  if (!isPlainObject(config)) throw new ArgumentError('config', `must be a model config, got ${describeValue(config)}`);
  checkInteger('config.codebookSize', config.codebookSize, 1);
  checkInteger('config.numClasses', config.numClasses, 1);
  checkInteger('config.maskTokenId', config.maskTokenId, config.codebookSize + config.numClasses);
  if (config.nullClassId !== null) checkInteger('config.nullClassId', config.nullClassId, 0, config.numClasses - 1);
  checkInteger('config.imageSize', config.imageSize, 1);
  const levels = (config.tokenizer as { channelMultipliers?: unknown } | undefined)?.channelMultipliers;
  if (!Array.isArray(levels) || levels.length < 1) throw new ArgumentError('config.tokenizer.channelMultipliers', 'must be a non-empty list');
  const n = imageTokenCount(config);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new ArgumentError('config.imageSize', `${config.imageSize} px with ${levels.length} tokenizer levels gives ${n} image tokens, not a whole number`);
  }
}

/** The options of the sampler that are checked the same way wherever they come from. */
export type SamplingChecks = Pick<DecodeOptions, 'steps' | 'startStep' | 'schedule' | 'sampleTemperature' | 'choiceTemperature' | 'topK' | 'topP' | 'guidance'>;

/** T when none is given: 8 (the paper's setting at 256 px), 12 from 32x32 latents (512 px) up. */
export function defaultSteps(imageTokens: number, steps?: number): number {
  return steps ?? (imageTokens >= 1024 ? 12 : 8);
}

/**
 * Checks the sampler's options (steps, start step, schedule, temperatures, top-k/top-p,
 * guidance against the model's null class), throwing ArgumentError naming the first bad one.
 * Synchronous and allocation-free, so callers that do GPU work before decoding (editing
 * encodes its input first) can refuse bad options before any work.
 */
export function checkSamplingOptions(config: Pick<DecodeConfig, 'nullClassId'>, options: SamplingChecks): void {
  checkSteps(options.steps ?? 8, options.startStep ?? 0);
  checkSchedule(options.schedule ?? 'cosine');
  for (const [name, value] of [['sampleTemperature', options.sampleTemperature ?? 1], ['choiceTemperature', options.choiceTemperature ?? 4.5]] as const) {
    if (typeof value !== 'number' || !(value >= 0 && Number.isFinite(value))) throw new ArgumentError(name, `must be a finite number >= 0 (0: greedy), got ${describeValue(value)}`);
  }
  const topK = options.topK ?? 0;
  if (!Number.isInteger(topK) || topK < 0) throw new ArgumentError('topK', `must be an integer >= 0 (0: off), got ${describeValue(topK)}`);
  const topP = options.topP ?? 1;
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) throw new ArgumentError('topP', `must be in (0, 1] (1: off), got ${describeValue(topP)}`);
  if (options.guidance !== undefined) {
    if (!isPlainObject(options.guidance)) throw new ArgumentError('guidance', `must be { scale, ramp? }, got ${describeValue(options.guidance)}`);
    if (config.nullClassId === null) throw new ArgumentError('guidance', 'this model has no null class (config.nullClassId), so it cannot be guided');
    if (typeof options.guidance.scale !== 'number' || !Number.isFinite(options.guidance.scale)) throw new ArgumentError('guidance.scale', `must be a finite number (e.g. 2), got ${describeValue(options.guidance.scale)}`);
    const ramp = options.guidance.ramp ?? 'constant';
    if (ramp !== 'constant' && ramp !== 'linear') throw new ArgumentError('guidance.ramp', `must be "constant" or "linear", got ${describeValue(ramp)}`);
  }
}

/** Validates the options and finds N0 per image. */
async function planDecode(engine: Engine, config: DecodeConfig, options: DecodeOptions): Promise<Plan> {
  if (!Array.isArray(options.classes)) throw new ArgumentError('classes', `must be a list of class labels (one per image), got ${describeValue(options.classes)}`);
  const batch = options.classes.length;
  if (batch < 1) throw new ArgumentError('classes', 'give at least one class label (one per image)');
  for (const c of options.classes) {
    if (!Number.isInteger(c) || c < 0 || c >= config.numClasses) throw new ArgumentError('classes', `labels must be integers in [0, ${config.numClasses}), got ${c}`);
  }
  const n = imageTokenCount(config);
  const rows = (options.guidance !== undefined ? 2 : 1) * batch;
  const limit = engine.device.limits.maxStorageBufferBindingSize;
  if (rows * (n + 1) * 4 > limit) {
    throw new ArgumentError('classes', `${batch} images of ${n + 1} tokens are more than one GPU buffer holds (${limit} bytes); decode fewer at a time`);
  }
  const steps = defaultSteps(n, options.steps);
  const start = options.startStep ?? 0;
  checkSamplingOptions(config, { ...options, steps });
  checkFunction('onStep', options.onStep);
  const guided = options.guidance !== undefined;
  if (options.seeds !== undefined) {
    const list = typeof options.seeds === 'number' ? [options.seeds] : options.seeds;
    if (!Array.isArray(list)) throw new ArgumentError('seeds', `must be a number or a list of numbers, got ${describeValue(options.seeds)}`);
    if (typeof options.seeds !== 'number' && list.length !== batch) throw new ArgumentError('seeds', `give one seed per image (${batch}), got ${list.length}`);
    for (const s of list) if (!Number.isSafeInteger(s)) throw new ArgumentError('seeds', `seeds must be integers (taken mod 2^32), got ${describeValue(s)}`);
  }
  const output = options.output ?? 'sequence';
  if (output !== 'sequence' && output !== 'image') throw new ArgumentError('output', `must be "sequence" or "image", got ${String(output)}`);
  const init = options.initialTokens;
  let counts: number[];
  if (init === undefined) counts = new Array<number>(batch).fill(n);
  else if (isTensor(init)) {
    if (init.engine !== engine) throw new ArgumentError('initialTokens', 'is a tensor of another engine (device)');
    if (init.disposed) throw new ArgumentError('initialTokens', 'was disposed');
    if (init.dtype !== 'i32' || init.size !== batch * n) throw new ShapeError(`initialTokens: expected i32 [${batch}, ${n}], got ${init.dtype} [${init.shape.join(', ')}]`);
    if (options.unknownCounts) {
      if (!Array.isArray(options.unknownCounts) || options.unknownCounts.length !== batch) throw new ArgumentError('unknownCounts', `give one count per image (${batch})`);
      for (const c of options.unknownCounts) checkInteger('unknownCounts', c, 0, n);
      counts = [...options.unknownCounts];
    } else counts = countUnknown(await init.read(), batch, n, config.maskTokenId);
  } else {
    if (!Array.isArray(init) && !(init instanceof Int32Array)) {
      throw new ArgumentError('initialTokens', `must be an Int32Array, a list of numbers or an i32 tensor, got ${describeValue(init)}`);
    }
    if (init.length !== batch * n) throw new ShapeError(`initialTokens: expected ${batch} x ${n} image tokens, got ${init.length}`);
    for (const v of init) {
      if (!Number.isInteger(v) || ((v < 0 || v >= config.codebookSize) && v !== config.maskTokenId)) {
        throw new ArgumentError('initialTokens', `tokens must be codebook ids in [0, ${config.codebookSize}) or the mask id ${config.maskTokenId}, got ${v}`);
      }
    }
    counts = countUnknown(init, batch, n, config.maskTokenId);
  }
  return { batch, length: n + 1, steps, start, guided, counts };
}

function countUnknown(tokens: ArrayLike<number>, batch: number, n: number, maskId: number): number[] {
  const counts = new Array<number>(batch).fill(0);
  for (let b = 0; b < batch; b++) for (let i = 0; i < n; i++) if (tokens[b * n + i] === maskId) counts[b]!++;
  return counts;
}

/** The token state [B or 2B, L]: class token then image tokens; unconditional rows after. */
function initialSequences(engine: Engine, config: DecodeConfig, options: DecodeOptions, plan: Plan): Tensor<'i32'> {
  const { batch, length, guided } = plan;
  const rows = guided ? 2 * batch : batch;
  const classToken = (r: number) => (r < batch ? options.classes[r]! : config.nullClassId!) + config.codebookSize;
  const init = options.initialTokens;
  if (!isTensor(init)) {
    const seq = new Int32Array(rows * length).fill(config.maskTokenId);
    for (let r = 0; r < rows; r++) {
      seq[r * length] = classToken(r);
      if (init) for (let i = 1; i < length; i++) seq[r * length + i] = init[(r % batch) * (length - 1) + i - 1]!;
    }
    return engine.tensor(seq, [rows, length], 'i32');
  }
  // Image tokens already on the GPU: class tokens uploaded, image tokens copied in place.
  const tokens = engine.empty([rows, length], 'i32');
  const classes = engine.tensor(Int32Array.from({ length: rows }, (_, r) => classToken(r)), [rows], 'i32');
  for (let r = 0; r < rows; r++) {
    engine.copy(classes, r * 4, tokens, r * length * 4, 4);
    engine.copy(init, (r % batch) * (length - 1) * 4, tokens, (r * length + 1) * 4, (length - 1) * 4);
  }
  classes.dispose();
  return tokens;
}
