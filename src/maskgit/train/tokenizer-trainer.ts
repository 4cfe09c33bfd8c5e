import { ArgumentError, MaskGITError } from '../../errors.js';
import type { RGBAImage } from '../../io/png.js';
import { drawLineChart, stackImages, type Series } from '../../io/plot.js';
import type { TensorBytes } from '../../io/safetensors.js';
import { backward, constant } from '../../tensor/autograd.js';
import type { Engine } from '../../tensor/engine.js';
import { add } from '../../tensor/grad/basic.js';
import { meanSquaredError } from '../../tensor/grad/loss.js';
import { f32ArrayToF16 } from '../../tensor/half.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { MaskGITConfig, TokenizerConfig } from '../config.js';
import { VQGANTokenizer } from '../tokenizer.js';
import { EmaCodebook } from './codebook.js';
import { imageSlice, TrainingStream, type ImageSet } from './data.js';
import { evaluateTokenizer, reconstructionGrid, type ReconstructionMetrics } from './evaluate.js';
import { AdamW, warmupCosine } from './optimizer.js';
import { CODEBOOK_PARAM, TrainableTokenizer } from './tokenizer-model.js';

/** Tokenizer sizes by name. `small` is the 32 px emoji tokenizer of models/emoji-32. */
export const TOKENIZER_PRESETS: Readonly<Record<string, TokenizerConfig>> = {
  /** For tests: every feature (shortcuts, pooling, upsampling), a few thousand parameters. */
  tiny: { filters: 8, channelMultipliers: [1, 1, 2], numResBlocks: 1, embeddingDim: 4, codebookSize: 16, groupNormGroups: 4, groupNormEps: 1e-6 },
  small: { filters: 32, channelMultipliers: [1, 1, 2], numResBlocks: 1, embeddingDim: 32, codebookSize: 512, groupNormGroups: 8, groupNormEps: 1e-6 },
  base: { filters: 64, channelMultipliers: [1, 2, 2], numResBlocks: 2, embeddingDim: 64, codebookSize: 512, groupNormGroups: 32, groupNormEps: 1e-6 },
};

/** Everything that defines a training run (saved with its checkpoints). */
export interface TokenizerTrainingOptions {
  /** Length of the learning-rate schedule (the run's total steps). */
  steps: number;
  batchSize: number;
  /** Peak learning rate (after the linear warm-up). */
  learningRate: number;
  warmupSteps: number;
  /** The cosine decays to this learning rate at `steps`. */
  finalLearningRate: number;
  /** Decoupled weight decay of conv kernels (AdamW). */
  weightDecay: number;
  beta1: number;
  beta2: number;
  /** Global gradient-norm clipping (0: none). */
  maxGradNorm: number;
  /** beta of the commitment loss beta * ||z - sg(q)||^2. */
  commitment: number;
  /** EMA decay of the codebook statistics. */
  emaDecay: number;
  /** Steps a code may go unused before it restarts at a random encoder output of the batch (0: never). */
  deadCodePatience: number;
  /** Augmentation: random left-right flips. */
  flip: boolean;
  /** Augmentation: random shifts of up to this many pixels (white fill). */
  maxShift: number;
  seed: number;
}

export const DEFAULT_TRAINING_OPTIONS: TokenizerTrainingOptions = {
  steps: 2000,
  batchSize: 32,
  learningRate: 1e-3,
  warmupSteps: 100,
  finalLearningRate: 5e-5,
  weightDecay: 0.01,
  beta1: 0.9,
  beta2: 0.99,
  maxGradNorm: 1,
  commitment: 0.25,
  emaDecay: 0.99,
  deadCodePatience: 100,
  flip: true,
  maxShift: 2,
  seed: 0,
};

/** Per-step training numbers. */
export interface TrainingHistory {
  step: number[];
  /** reconstruction + commitment. */
  loss: number[];
  /** Mean squared error of the pixels (in [0, 1]). */
  reconstruction: number[];
  commitment: number[];
  learningRate: number[];
}

/** One evaluation on held-out images (reconstructions clipped to [0, 1] as decode() returns them). */
export interface EvalRecord extends ReconstructionMetrics {
  step: number;
}

/** training.json of a checkpoint. */
export interface TrainingRecordFile {
  format: 'maskgit-tokenizer-training';
  version: 1;
  step: number;
  options: TokenizerTrainingOptions;
  tokenizer: TokenizerConfig;
  imageSize: number;
  /** How many images the run trains and evaluates on (a resumed run must see the same). */
  data: { train: number; heldOut: number };
  history: TrainingHistory;
  evals: EvalRecord[];
  /** Wall time spent in training steps so far (evaluations and writes excluded). */
  trainSeconds: number;
  /** Wall time of the whole run so far, evaluations and checkpoints included. */
  wallSeconds: number;
}

export const TRAINING_STATE_FILE = 'training-state.safetensors';
export const TRAINING_RECORD_FILE = 'training.json';

export function validateTrainingOptions(o: TokenizerTrainingOptions): void {
  const positiveInt = (name: keyof TokenizerTrainingOptions) => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ArgumentError(name, `must be a positive integer, got ${String(v)}`);
  };
  const nonNegative = (name: keyof TokenizerTrainingOptions) => {
    const v = o[name];
    if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new ArgumentError(name, `must be a finite number >= 0, got ${String(v)}`);
  };
  positiveInt('steps');
  positiveInt('batchSize');
  for (const name of ['learningRate', 'finalLearningRate', 'weightDecay', 'maxGradNorm', 'commitment', 'warmupSteps', 'deadCodePatience', 'maxShift', 'seed'] as const) nonNegative(name);
  if (!(o.learningRate > 0)) throw new ArgumentError('learningRate', `must be > 0, got ${o.learningRate}`);
  for (const name of ['beta1', 'beta2', 'emaDecay'] as const) if (!(o[name] >= 0 && o[name] < 1)) throw new ArgumentError(name, `must be in [0, 1), got ${o[name]}`);
  for (const name of ['warmupSteps', 'deadCodePatience', 'maxShift', 'seed'] as const) if (!Number.isInteger(o[name])) throw new ArgumentError(name, `must be an integer, got ${o[name]}`);
}

/** The images a run trains on and evaluates with. */
export interface TrainingData {
  train: ImageSet;
  heldOut: ImageSet;
}

/** A tensor's bytes for a safetensors file (read back from the GPU). */
async function tensorBytes(name: string, t: Tensor, dtype: 'F32' | 'F16' = 'F32'): Promise<TensorBytes> {
  const values = await t.read();
  if (t.dtype === 'u32') return { name, dtype: 'U32', shape: [...t.shape], data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
  if (dtype === 'F16') {
    const half = f32ArrayToF16(values as Float32Array);
    return { name, dtype, shape: [...t.shape], data: new Uint8Array(half.buffer, half.byteOffset, half.byteLength) };
  }
  return { name, dtype: 'F32', shape: [...t.shape], data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

/**
 * Trains a VQ tokenizer (TrainableTokenizer): L2 reconstruction + commitment loss, codebook by
 * EMA with dead-code restarts, AdamW with warm-up + cosine and global-norm clipping, on a
 * deterministic, augmented data stream. Every step runs on the GPU without a readback; the
 * step's losses are copied into a log buffer read every `flushLog()`. `state()` / resume
 * restore the weights, the optimizer moments, the codebook statistics and the step, which
 * with the stream's determinism reproduces an uninterrupted run's losses exactly.
 */
export class TokenizerTrainer {
  readonly engine: Engine;
  readonly model: TrainableTokenizer;
  readonly codebook: EmaCodebook;
  readonly optimizer: AdamW;
  readonly stream: TrainingStream;
  readonly history: TrainingHistory;
  readonly evals: EvalRecord[];
  trainSeconds: number;
  wallSeconds: number;
  private logBuffer: Tensor;
  private logged: number[] = [];
  private inference: VQGANTokenizer | null = null;

  private constructor(
    readonly data: TrainingData,
    readonly options: TokenizerTrainingOptions,
    model: TrainableTokenizer,
    record?: Pick<TrainingRecordFile, 'history' | 'evals' | 'trainSeconds' | 'wallSeconds'>,
  ) {
    validateTrainingOptions(options);
    this.model = model;
    this.engine = model.engine;
    const o = options;
    this.codebook = new EmaCodebook(model.codebook, { decay: o.emaDecay, patience: o.deadCodePatience, seed: o.seed });
    this.optimizer = new AdamW(model.params, {
      learningRate: warmupCosine({ peak: o.learningRate, warmup: o.warmupSteps, total: o.steps, final: o.finalLearningRate }),
      beta1: o.beta1,
      beta2: o.beta2,
      weightDecay: o.weightDecay,
      maxGradNorm: o.maxGradNorm,
    });
    const size = model.config.channelMultipliers.length;
    if (data.train.size % 2 ** (size - 1) !== 0) throw new ArgumentError('data', `images of ${data.train.size} px are not a multiple of the downsampling factor ${2 ** (size - 1)}`);
    this.stream = new TrainingStream(data.train, o.batchSize, o.seed, { flip: o.flip, maxShift: o.maxShift });
    this.history = record ? structuredClone(record.history) : { step: [], loss: [], reconstruction: [], commitment: [], learningRate: [] };
    this.evals = record ? structuredClone(record.evals) : [];
    this.trainSeconds = record?.trainSeconds ?? 0;
    this.wallSeconds = record?.wallSeconds ?? 0;
    this.logBuffer = this.engine.keep(this.engine.zeros([2 * 64]));
  }

  /** A new run from freshly initialised weights. */
  static create(engine: Engine, data: TrainingData, config: TokenizerConfig, options: Partial<TokenizerTrainingOptions> = {}): TokenizerTrainer {
    const o = { ...DEFAULT_TRAINING_OPTIONS, ...options };
    validateTrainingOptions(o);
    return new TokenizerTrainer(data, o, TrainableTokenizer.initialize(engine, config, o.seed));
  }

  /**
   * A run restored from a checkpoint: weights (f32, every tokenizer parameter), the state
   * tensors of state() and the record of record(). `options` may change the schedule's
   * length (`steps`); anything else must be as saved.
   */
  static restore(
    data: TrainingData,
    weights: ReadonlyMap<string, Tensor>,
    state: ReadonlyMap<string, Tensor>,
    record: TrainingRecordFile,
    options: Partial<TokenizerTrainingOptions> = {},
  ): TokenizerTrainer {
    for (const [name, value] of Object.entries(options) as [keyof TokenizerTrainingOptions, unknown][]) {
      if (value !== undefined && name !== 'steps' && value !== record.options[name]) {
        throw new ArgumentError(name, `the checkpoint was trained with ${String(record.options[name])}, not ${String(value)}; resume with the same value (only the number of steps may change)`);
      }
    }
    if (record.data.train !== data.train.count || record.data.heldOut !== data.heldOut.count || record.imageSize !== data.train.size) {
      throw new ArgumentError(
        'data',
        `the checkpoint trained on ${record.data.train} images (${record.data.heldOut} held out) of ${record.imageSize} px, not ${data.train.count} (${data.heldOut.count}) of ${data.train.size} px; resume with the same data`,
      );
    }
    const o = { ...record.options, ...(options.steps !== undefined && { steps: options.steps }) };
    if (o.steps < record.step) throw new ArgumentError('steps', `the checkpoint is at step ${record.step}, past ${o.steps}`);
    const trainer = new TokenizerTrainer(data, o, new TrainableTokenizer(record.tokenizer, weights), record);
    trainer.optimizer.loadState(state, record.step);
    trainer.codebook.loadState(state, CODEBOOK_PARAM);
    return trainer;
  }

  get config(): TokenizerConfig {
    return this.model.config;
  }

  /** Steps taken. */
  get step(): number {
    return this.optimizer.step;
  }

  /** One training step (recorded; nothing is read back). */
  trainStep(): void {
    const e = this.engine;
    const step = this.step;
    const B = this.options.batchSize;
    const S = this.data.train.size;
    const batch = this.stream.batch(step);
    if (this.logged.length * 2 >= this.logBuffer.size) this.growLog();
    const slot = this.logged.length;
    e.tidy(() => {
      const pixels = e.tensor(batch, [B, S, S, 3]);
      // The first step seeds every code from the first batch's encoder outputs.
      const out = this.model.forward(constant(pixels), this.options.commitment, step === 0 ? (z) => this.codebook.reseed(z, step) : undefined);
      const reconstruction = meanSquaredError(out.reconstruction, pixels);
      const loss = add(reconstruction, out.commitment);
      e.copy(reconstruction.value, 0, this.logBuffer, slot * 8, 4);
      e.copy(out.commitment.value, 0, this.logBuffer, slot * 8 + 4, 4);
      // The codebook learns from this batch's assignments (no gradient reaches it).
      this.codebook.update(out.latents.value, out.tokens, step);
      backward(loss);
      this.optimizer.update();
    });
    this.logged.push(step);
  }

  private growLog(): void {
    const bigger = this.engine.keep(this.engine.zeros([this.logBuffer.size * 2]));
    this.engine.copy(this.logBuffer, 0, bigger, 0, this.logBuffer.byteLength);
    this.logBuffer.dispose();
    this.logBuffer = bigger;
  }

  /** Reads the losses of the steps since the last flush into `history` (one readback). */
  async flushLog(): Promise<void> {
    if (this.logged.length === 0) return;
    const values = await this.logBuffer.read();
    this.logged.forEach((step, i) => {
      const rec = values[2 * i]!;
      const com = values[2 * i + 1]!;
      if (!Number.isFinite(rec) || !Number.isFinite(com)) {
        throw new MaskGITError(`training diverged at step ${step}: reconstruction loss ${rec}, commitment loss ${com}; lower the learning rate`);
      }
      this.history.step.push(step);
      this.history.reconstruction.push(rec);
      this.history.commitment.push(com);
      this.history.loss.push(rec + com);
      this.history.learningRate.push(this.optimizer.learningRate(step));
    });
    this.logged = [];
  }

  /** The inference tokenizer over the live weights (VQGANTokenizer on the same tensors). */
  tokenizer(): VQGANTokenizer {
    this.inference ??= VQGANTokenizer.fromWeights(this.model.weights(), this.config);
    return this.inference;
  }

  /** PSNR and codebook use on the first `limit` held-out images (all by default); appended to `evals`. */
  async evaluate(limit = 0): Promise<EvalRecord> {
    const set = this.data.heldOut;
    const count = limit > 0 ? Math.min(limit, set.count) : set.count;
    const images = { images: imageSlice(set, 0, count), count, size: set.size };
    const record: EvalRecord = { step: this.step, ...(await evaluateTokenizer(this.tokenizer(), images, this.options.batchSize)) };
    this.evals.push(record);
    return record;
  }

  /** Held-out originals above their reconstructions: `count` images spread over the set (reconstructionGrid). */
  sampleGrid(count = 16): Promise<RGBAImage> {
    return reconstructionGrid(this.tokenizer(), this.data.heldOut, count);
  }

  /** The loss curves (log scale) above the held-out PSNR, as an image. */
  lossPlot(): RGBAImage {
    const h = this.history;
    const smooth = (values: number[]) => {
      const out: number[] = [];
      let m = NaN;
      const a = 2 / (Math.max(5, Math.round(values.length / 50)) + 1);
      for (const v of values) out.push((m = Number.isNaN(m) ? v : m + a * (v - m)));
      return out;
    };
    const pairs = (xs: number[], ys: number[]) => xs.map((x, i) => [x, ys[i]!] as const);
    const losses: Series[] = [
      { name: 'reconstruction (mse)', color: [31, 119, 180], points: pairs(h.step, smooth(h.reconstruction)) },
      { name: 'commitment', color: [255, 127, 14], points: pairs(h.step, smooth(h.commitment)) },
    ];
    const width = 900;
    const top = drawLineChart({ width, height: 340, title: 'training loss (smoothed)', xLabel: 'step', series: losses, logY: true });
    const evals: Series[] = [
      { name: 'held-out psnr (db)', color: [44, 160, 44], points: this.evals.map((e) => [e.step, e.psnr] as const) },
    ];
    const bottom = drawLineChart({ width, height: 300, title: 'held-out reconstruction psnr (db)', xLabel: 'step', series: evals });
    return stackImages([top, bottom]);
  }

  /** The per-step numbers as CSV. */
  historyCsv(): string {
    const h = this.history;
    const lines = ['step,loss,reconstruction_mse,commitment,learning_rate'];
    h.step.forEach((s, i) => lines.push(`${s},${h.loss[i]},${h.reconstruction[i]},${h.commitment[i]},${h.learningRate[i]}`));
    return lines.join('\n') + '\n';
  }

  /** The evaluations as CSV. */
  evalsCsv(): string {
    const lines = ['step,images,psnr,psnr_of_mean_error,mse,codes_used,perplexity'];
    for (const e of this.evals) lines.push(`${e.step},${e.images},${e.psnr},${e.psnrOfMeanError},${e.mse},${e.codesUsed},${e.perplexity}`);
    return lines.join('\n') + '\n';
  }

  /** training.json. */
  record(): TrainingRecordFile {
    return {
      format: 'maskgit-tokenizer-training',
      version: 1,
      step: this.step,
      options: { ...this.options },
      tokenizer: structuredClone(this.config),
      imageSize: this.data.train.size,
      data: { train: this.data.train.count, heldOut: this.data.heldOut.count },
      history: structuredClone(this.history),
      evals: structuredClone(this.evals),
      trainSeconds: this.trainSeconds,
      wallSeconds: this.wallSeconds,
    };
  }

  /** The tokenizer's weights as safetensors entries (f32 while training; f16 for a compact export). */
  async weightBytes(dtype: 'F32' | 'F16' = 'F32'): Promise<TensorBytes[]> {
    const out: TensorBytes[] = [];
    for (const [name, t] of this.model.weights()) out.push(await tensorBytes(name, t, dtype));
    return out;
  }

  /** Optimizer moments and codebook statistics as safetensors entries. */
  async stateBytes(): Promise<TensorBytes[]> {
    const out: TensorBytes[] = [];
    for (const [name, t] of this.optimizer.state()) out.push(await tensorBytes(name, t));
    for (const [name, t] of this.codebook.state(CODEBOOK_PARAM)) out.push(await tensorBytes(name, t));
    return out;
  }

  dispose(): void {
    this.optimizer.dispose();
    this.codebook.dispose();
    this.model.dispose();
    this.logBuffer.dispose();
  }
}


/**
 * A model folder's config.json for a trained tokenizer alone: the tokenizer section is complete
 * and `contents` is ['tokenizer']; the transformer section is the planned companion (no weights
 * back it) and satisfies the config's relations (vocabulary = codes + classes + mask).
 */
export function tokenizerOnlyConfig(
  tokenizer: TokenizerConfig,
  options: { imageSize: number; dtype: 'f32' | 'f16'; classNames?: readonly string[] },
): MaskGITConfig & { contents: ['tokenizer'] } {
  const numClasses = Math.max(1, options.classNames?.length ?? 1);
  const tokens = (options.imageSize / 2 ** (tokenizer.channelMultipliers.length - 1)) ** 2;
  const vocabSize = tokenizer.codebookSize + numClasses + 1;
  return {
    format: 'maskgit-model',
    version: 1,
    contents: ['tokenizer'],
    imageSize: options.imageSize,
    codebookSize: tokenizer.codebookSize,
    numClasses,
    maskTokenId: vocabSize - 1,
    nullClassId: null,
    ...(options.classNames && { classNames: [...options.classNames] }),
    dtype: options.dtype,
    transformer: { vocabSize, hiddenSize: 256, numLayers: 8, numHeads: 8, mlpSize: 1024, maxPositions: tokens + 1, layerNormEps: 1e-12, gelu: 'tanh' },
    tokenizer: structuredClone(tokenizer),
  };
}
