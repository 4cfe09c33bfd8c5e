import { ArgumentError, MaskGITError } from '../../errors.js';
import type { RGBAImage } from '../../io/png.js';
import { drawLineChart, stackImages, type Series } from '../../io/plot.js';
import type { TensorBytes } from '../../io/safetensors.js';
import { backward, constant, parameter, type Variable } from '../../tensor/autograd.js';
import type { Engine } from '../../tensor/engine.js';
import { add, scale } from '../../tensor/grad/basic.js';
import { hingeLoss, innerProduct, mean, meanAbsoluteError, meanSquaredError } from '../../tensor/grad/loss.js';
import * as ops from '../../tensor/ops/index.js';
import { f32ArrayToF16 } from '../../tensor/half.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { MaskGITConfig, TokenizerConfig } from '../config.js';
import { VQGANTokenizer } from '../tokenizer.js';
import { checkWeights, tokenizerParams } from '../weights.js';
import { EmaCodebook } from './codebook.js';
import { DISCRIMINATOR_PREFIX, PatchDiscriminator } from './discriminator.js';
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
  /** Weight of the mean absolute error of the reconstruction (L1). */
  l1Weight: number;
  /** Weight of the mean squared error of the reconstruction (L2). */
  l2Weight: number;
  /**
   * Weight of the adversarial term (0: none). The generator's loss -mean D(x_rec) is scaled by
   * this times the adaptive weight ||grad_W L_rec|| / (||grad_W L_adv|| + 1e-4) (clamped to
   * [0, 1e4]) with W the decoder's last conv kernel, as in taming-transformers' VQGAN.
   */
  adversarialWeight: number;
  /** The step from which the discriminator trains and the adversarial term is on (a warm-up of reconstruction only before it). */
  adversarialStart: number;
  /** Channels of the patch discriminator's first layer (PatchDiscriminator). */
  discriminatorFilters: number;
  /** EMA decay of the codebook statistics. */
  emaDecay: number;
  /** Steps a code may go unused before it restarts at a random encoder output of the batch (0: never). */
  deadCodePatience: number;
  /**
   * Train the decoder alone: the encoder and the codebook stay as they were initialised (no
   * gradient, no EMA update, no restarts), so every image keeps its tokens and a transformer
   * trained on them stays valid. Needs the weights of a trained tokenizer to start from.
   */
  decoderOnly: boolean;
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
  l1Weight: 1,
  l2Weight: 1,
  adversarialWeight: 0.1,
  adversarialStart: 1000,
  discriminatorFilters: 32,
  emaDecay: 0.99,
  deadCodePatience: 100,
  decoderOnly: false,
  flip: true,
  maxShift: 2,
  seed: 0,
};

/** Per-step training numbers. */
export interface TrainingHistory {
  step: number[];
  /** The generator's whole loss: l2Weight mse + l1Weight l1 + commitment + adaptive weight x adversarial. */
  loss: number[];
  /** Mean squared error of the pixels (in [0, 1]). */
  reconstruction: number[];
  /** Mean absolute error of the pixels. */
  l1: number[];
  commitment: number[];
  /** The generator's adversarial loss -mean D(x_rec) (0 before adversarialStart). */
  adversarial: number[];
  /** The discriminator's hinge loss (0 before adversarialStart). */
  discriminator: number[];
  /** adversarialWeight x the adaptive weight that multiplied the adversarial loss (0 before adversarialStart). */
  adaptiveWeight: number[];
  learningRate: number[];
}

/** Numbers logged per step, in this order, in the trainer's log buffer. */
const LOGGED = ['reconstruction', 'commitment', 'l1', 'adversarial', 'discriminator', 'adaptiveWeight'] as const;

/** One evaluation on held-out images (reconstructions clipped to [0, 1] as decode() returns them). */
export interface EvalRecord extends ReconstructionMetrics {
  step: number;
}

/** training.json of a checkpoint. */
export interface TrainingRecordFile {
  format: 'maskgit-tokenizer-training';
  /** 2 added the L1 and adversarial terms (a version-1 run resumes with L1 and the adversarial term off, as it trained). */
  version: 1 | 2;
  step: number;
  options: TokenizerTrainingOptions;
  tokenizer: TokenizerConfig;
  imageSize: number;
  /** How many images the run trains and evaluates on (a resumed run must see the same). */
  data: { train: number; heldOut: number };
  history: TrainingHistory;
  evals: EvalRecord[];
  /** Where a run that did not start from random weights took them (TokenizerInitialWeights.from). */
  initializedFrom?: string;
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
  positiveInt('discriminatorFilters');
  const nonNegatives = ['learningRate', 'finalLearningRate', 'weightDecay', 'maxGradNorm', 'commitment', 'l1Weight', 'l2Weight', 'adversarialWeight', 'adversarialStart', 'warmupSteps', 'deadCodePatience', 'maxShift', 'seed'] as const;
  for (const name of nonNegatives) nonNegative(name);
  if (!(o.learningRate > 0)) throw new ArgumentError('learningRate', `must be > 0, got ${o.learningRate}`);
  if (!(o.l1Weight + o.l2Weight > 0)) throw new ArgumentError('l1Weight', 'the L1 and L2 weights are both 0: give at least one reconstruction loss a positive weight');
  for (const name of ['beta1', 'beta2', 'emaDecay'] as const) if (!(o[name] >= 0 && o[name] < 1)) throw new ArgumentError(name, `must be in [0, 1), got ${o[name]}`);
  for (const name of ['warmupSteps', 'deadCodePatience', 'maxShift', 'seed', 'adversarialStart'] as const) if (!Number.isInteger(o[name])) throw new ArgumentError(name, `must be an integer, got ${o[name]}`);
}

/** Weights a new run starts from instead of random ones (e.g. to fine-tune a trained tokenizer's decoder). */
export interface TokenizerInitialWeights {
  /** Every tokenizer parameter by engine name, f32 (copied: the caller keeps them). */
  weights: ReadonlyMap<string, Tensor>;
  /** The patch discriminator's weights by name (a train-tokenizer checkpoint's state), when the run has one. */
  discriminator?: ReadonlyMap<string, Tensor>;
  /** Where they come from, for the run's record (a folder name). */
  from: string;
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

/** sum(t^2) over every element, as a [1] tensor. */
function squaredSum(t: Tensor): Tensor {
  const squares = ops.square(t);
  const flat = squares.reshape([1, squares.size]);
  const total = ops.sum(flat);
  flat.dispose();
  squares.dispose();
  return total;
}

/** A history with every series (a version-1 record lacks the L1 and adversarial ones: zeros). */
function completeHistory(h: Partial<TrainingHistory>): TrainingHistory {
  const steps = h.step?.length ?? 0;
  const series = (values: number[] | undefined) => (values ? [...values] : new Array<number>(steps).fill(0));
  return {
    step: series(h.step),
    loss: series(h.loss),
    reconstruction: series(h.reconstruction),
    l1: series(h.l1),
    commitment: series(h.commitment),
    adversarial: series(h.adversarial),
    discriminator: series(h.discriminator),
    adaptiveWeight: series(h.adaptiveWeight),
    learningRate: series(h.learningRate),
  };
}

/** Options of a version-1 record (before the L1 and adversarial terms): resumed as they trained. */
const VERSION_1_OPTIONS: Partial<TokenizerTrainingOptions> = { l1Weight: 0, l2Weight: 1, adversarialWeight: 0, adversarialStart: 0, discriminatorFilters: 32 };

/**
 * Trains a VQ tokenizer (TrainableTokenizer) with the VQGAN recipe: L1 + L2 reconstruction +
 * commitment loss, and from `adversarialStart` a patch discriminator with the hinge loss whose
 * adversarial term is weighted adaptively (taming-transformers); codebook by EMA with dead-code
 * restarts; AdamW with warm-up + cosine and global-norm clipping, on a deterministic, augmented
 * data stream. Every step runs on the GPU without a readback; the step's losses are copied into a
 * log buffer read every `flushLog()`. `state()` / resume restore the weights, the optimizer
 * moments, the codebook statistics, the discriminator and the step, which with the stream's
 * determinism reproduces an uninterrupted run's losses exactly.
 */
export class TokenizerTrainer {
  readonly engine: Engine;
  readonly model: TrainableTokenizer;
  readonly codebook: EmaCodebook;
  readonly optimizer: AdamW;
  /** The patch discriminator and its optimizer (when adversarialWeight > 0). */
  readonly discriminator: { model: PatchDiscriminator; optimizer: AdamW } | null;
  readonly stream: TrainingStream;
  readonly history: TrainingHistory;
  readonly evals: EvalRecord[];
  trainSeconds: number;
  wallSeconds: number;
  readonly initializedFrom: string | null;
  private logBuffer: Tensor;
  private logged: number[] = [];
  private inference: VQGANTokenizer | null = null;

  private constructor(
    readonly data: TrainingData,
    readonly options: TokenizerTrainingOptions,
    model: TrainableTokenizer,
    record?: Pick<TrainingRecordFile, 'history' | 'evals' | 'trainSeconds' | 'wallSeconds' | 'initializedFrom'>,
    initializedFrom?: string,
  ) {
    validateTrainingOptions(options);
    this.model = model;
    this.engine = model.engine;
    const o = options;
    this.codebook = new EmaCodebook(model.codebook, { decay: o.emaDecay, patience: o.deadCodePatience, seed: o.seed });
    const learningRate = warmupCosine({ peak: o.learningRate, warmup: o.warmupSteps, total: o.steps, final: o.finalLearningRate });
    this.optimizer = new AdamW(model.params, { learningRate, beta1: o.beta1, beta2: o.beta2, weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm });
    if (o.adversarialWeight > 0) {
      // Its own seed stream: the tokenizer's initial weights are those of a run without it.
      const d = PatchDiscriminator.initialize(this.engine, o.discriminatorFilters, (o.seed ^ 0x5eed_d15c) >>> 0);
      // taming-transformers: Adam (0.5, 0.9) on the discriminator, the generator's learning rate
      // (its schedule, shifted to start with the adversarial term), no decay or clipping.
      this.discriminator = {
        model: d,
        optimizer: new AdamW(d.params, { learningRate: (step) => learningRate(step + o.adversarialStart), beta1: 0.5, beta2: 0.9, weightDecay: 0, maxGradNorm: 0 }),
      };
    } else this.discriminator = null;
    const size = model.config.channelMultipliers.length;
    if (data.train.size % 2 ** (size - 1) !== 0) throw new ArgumentError('data', `images of ${data.train.size} px are not a multiple of the downsampling factor ${2 ** (size - 1)}`);
    if (this.discriminator && data.train.size % 4 !== 0) throw new ArgumentError('data', `the discriminator needs images whose size is a multiple of 4, got ${data.train.size} px`);
    this.stream = new TrainingStream(data.train, o.batchSize, o.seed, { flip: o.flip, maxShift: o.maxShift });
    this.history = record ? completeHistory(record.history) : completeHistory({});
    this.evals = record ? structuredClone(record.evals) : [];
    this.trainSeconds = record?.trainSeconds ?? 0;
    this.wallSeconds = record?.wallSeconds ?? 0;
    this.initializedFrom = record?.initializedFrom ?? initializedFrom ?? null;
    this.logBuffer = this.engine.keep(this.engine.zeros([LOGGED.length * 64]));
  }

  /**
   * A new run from freshly initialised weights, or from `initial` (a trained tokenizer's weights,
   * copied; its discriminator too when given and the run has one). `decoderOnly` needs `initial`.
   */
  static create(
    engine: Engine,
    data: TrainingData,
    config: TokenizerConfig,
    options: Partial<TokenizerTrainingOptions> = {},
    initial?: TokenizerInitialWeights,
  ): TokenizerTrainer {
    const o = { ...DEFAULT_TRAINING_OPTIONS, ...options };
    validateTrainingOptions(o);
    if (!initial) {
      if (o.decoderOnly) throw new ArgumentError('decoderOnly', "trains the decoder of a trained tokenizer: give the tokenizer's weights to start from (--init DIR); a random encoder and codebook would stay random");
      return new TokenizerTrainer(data, o, TrainableTokenizer.initialize(engine, config, o.seed));
    }
    checkWeights(initial.weights, tokenizerParams(config));
    const copies = new Map<string, Tensor>();
    for (const spec of tokenizerParams(config)) {
      const src = initial.weights.get(spec.name)!;
      if (src.dtype !== 'f32') throw new ArgumentError('weights', `${spec.name} is ${src.dtype}; training runs in f32 (load the weights with dtype 'f32')`);
      const copy = engine.keep(engine.zeros(spec.shape));
      engine.copy(src, 0, copy, 0, copy.byteLength);
      copies.set(spec.name, copy);
    }
    const trainer = new TokenizerTrainer(data, o, new TrainableTokenizer(config, copies, { frozenEncoder: o.decoderOnly }), undefined, initial.from);
    if (trainer.discriminator && initial.discriminator) trainer.loadDiscriminator(initial.discriminator);
    return trainer;
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
    const saved: TokenizerTrainingOptions = { ...DEFAULT_TRAINING_OPTIONS, ...(record.version === 1 && VERSION_1_OPTIONS), ...record.options };
    for (const [name, value] of Object.entries(options) as [keyof TokenizerTrainingOptions, unknown][]) {
      if (value !== undefined && name !== 'steps' && value !== saved[name]) {
        throw new ArgumentError(name, `the checkpoint was trained with ${String(saved[name])}, not ${String(value)}; resume with the same value (only the number of steps may change)`);
      }
    }
    if (record.data.train !== data.train.count || record.data.heldOut !== data.heldOut.count || record.imageSize !== data.train.size) {
      throw new ArgumentError(
        'data',
        `the checkpoint trained on ${record.data.train} images (${record.data.heldOut} held out) of ${record.imageSize} px, not ${data.train.count} (${data.heldOut.count}) of ${data.train.size} px; resume with the same data`,
      );
    }
    const o = { ...saved, ...(options.steps !== undefined && { steps: options.steps }) };
    if (o.steps < record.step) throw new ArgumentError('steps', `the checkpoint is at step ${record.step}, past ${o.steps}`);
    const trainer = new TokenizerTrainer(data, o, new TrainableTokenizer(record.tokenizer, weights, { frozenEncoder: o.decoderOnly }), record);
    trainer.optimizer.loadState(state, record.step);
    trainer.codebook.loadState(state, CODEBOOK_PARAM);
    const d = trainer.discriminator;
    if (d) {
      const adversarialSteps = Math.max(0, record.step - o.adversarialStart);
      // Before its start the discriminator is untouched: a checkpoint may not hold it yet.
      if (adversarialSteps > 0 || state.has(`${DISCRIMINATOR_PREFIX}.conv_0.weight`)) {
        trainer.loadDiscriminator(state);
        d.optimizer.loadState(state, adversarialSteps);
      }
    }
    return trainer;
  }

  /** Copies the discriminator's weights from `state` (names as in stateBytes()). */
  private loadDiscriminator(state: ReadonlyMap<string, Tensor>): void {
    for (const [name, v] of this.discriminator!.model.params) {
      const src = state.get(name);
      if (!src || src.size !== v.value.size) throw new ArgumentError('state', `no ${name} of ${v.value.size} values in the checkpoint (a discriminator of other filters?)`);
      this.engine.copy(src, 0, v.value, 0, v.value.byteLength);
    }
  }

  get config(): TokenizerConfig {
    return this.model.config;
  }

  /** Steps taken. */
  get step(): number {
    return this.optimizer.step;
  }

  /** Whether step `step` trains the discriminator and adds the adversarial term. */
  adversarialAt(step: number): boolean {
    return this.discriminator !== null && step >= this.options.adversarialStart;
  }

  /** The weighted L1 + L2 reconstruction loss (and its two parts, for the log). */
  private reconstructionLoss(reconstruction: Variable, pixels: Tensor): { loss: Variable; mse: Variable; l1: Variable } {
    const { l1Weight, l2Weight } = this.options;
    const mse = meanSquaredError(reconstruction, pixels);
    const l1 = meanAbsoluteError(reconstruction, pixels);
    const weighted = (v: Variable, w: number) => (w === 1 ? v : scale(v, w));
    let loss: Variable;
    if (l1Weight === 0) loss = weighted(mse, l2Weight);
    else if (l2Weight === 0) loss = weighted(l1, l1Weight);
    else loss = add(weighted(mse, l2Weight), weighted(l1, l1Weight));
    return { loss, mse, l1 };
  }

  /** One training step (recorded; nothing is read back). */
  trainStep(): void {
    const e = this.engine;
    const step = this.step;
    const B = this.options.batchSize;
    const S = this.data.train.size;
    const batch = this.stream.batch(step);
    if ((this.logged.length + 1) * LOGGED.length > this.logBuffer.size) this.growLog();
    const slot = this.logged.length * LOGGED.length;
    const log = (what: (typeof LOGGED)[number], value: Tensor) => e.copy(value, 0, this.logBuffer, (slot + LOGGED.indexOf(what)) * 4, 4);
    e.tidy(() => {
      const pixels = e.tensor(batch, [B, S, S, 3]);
      const learnsCodebook = !this.options.decoderOnly;
      // The first step seeds every code from the first batch's encoder outputs.
      const out = this.model.forward(constant(pixels), this.options.commitment, step === 0 && learnsCodebook ? (z) => this.codebook.reseed(z, step) : undefined);
      if (!this.adversarialAt(step)) {
        const rec = this.reconstructionLoss(out.reconstruction, pixels);
        const loss = add(rec.loss, out.commitment);
        log('reconstruction', rec.mse.value);
        log('l1', rec.l1.value);
        log('commitment', out.commitment.value);
        for (const what of ['adversarial', 'discriminator', 'adaptiveWeight'] as const) e.clear(this.logBuffer, (slot + LOGGED.indexOf(what)) * 4, 4);
        // The codebook learns from this batch's assignments (no gradient reaches it).
        if (learnsCodebook) this.codebook.update(out.latents.value, out.tokens, step);
        backward(loss);
        this.optimizer.update();
        return;
      }
      const gradient = this.generatorGradient(out.reconstruction.value, out.decoderFeatures.value, pixels, log);
      log('commitment', out.commitment.value);
      if (learnsCodebook) this.codebook.update(out.latents.value, out.tokens, step);
      this.trainDiscriminator(pixels, out.reconstruction.value, log);
      // One backward through the tokenizer: the commitment loss, and at the reconstruction the
      // precomputed gradient of the reconstruction and weighted adversarial losses.
      backward(add(out.commitment, innerProduct(out.reconstruction, gradient)));
      this.optimizer.update();
    });
    this.logged.push(step);
  }

  /**
   * The gradient at the reconstruction of L_rec + lambda L_adv, L_adv = -mean D(x_rec) (the
   * discriminator frozen), lambda = adversarialWeight x clamp(||dL_rec/dW|| / (||dL_adv/dW|| +
   * 1e-4), 0, 1e4) with W the decoder's output conv kernel, whose input is `features`.
   */
  private generatorGradient(reconstruction: Tensor, features: Tensor, pixels: Tensor, log: (what: (typeof LOGGED)[number], value: Tensor) => void): Tensor {
    const d = this.discriminator!;
    // Each loss from its own leaf over the same tensor: two gradients at the reconstruction.
    const recAt = parameter(reconstruction);
    const rec = this.reconstructionLoss(recAt, pixels);
    log('reconstruction', rec.mse.value);
    log('l1', rec.l1.value);
    backward(rec.loss);
    const advAt = parameter(reconstruction);
    const adversarial = scale(mean(d.model.forward(advAt, { frozen: true })), -1);
    log('adversarial', adversarial.value);
    backward(adversarial);
    const [recGrad, advGrad] = [recAt.grad!, advAt.grad!];
    // The decoder's output conv is linear in its kernel: dL/dW = correlation of its input with dL/dx.
    const norm = (g: Tensor) => ops.sqrt(squaredSum(ops.conv2dFilterGrad(features, g, 3)));
    const ratio = ops.div(norm(recGrad), ops.affine(norm(advGrad), 1, 1e-4));
    const lambda = ops.scale(ops.clamp(ratio, 0, 1e4), this.options.adversarialWeight);
    log('adaptiveWeight', lambda);
    return ops.add(recGrad, ops.mul(advGrad, lambda));
  }

  /** One discriminator step on the batch's images (+1) and their reconstructions (-1): hinge loss, AdamW. */
  private trainDiscriminator(pixels: Tensor, reconstruction: Tensor, log: (what: (typeof LOGGED)[number], value: Tensor) => void): void {
    const d = this.discriminator!;
    const real = hingeLoss(d.model.forward(constant(pixels)), 1);
    const fake = hingeLoss(d.model.forward(constant(reconstruction)), -1);
    const loss = scale(add(real, fake), 0.5);
    log('discriminator', loss.value);
    backward(loss);
    d.optimizer.update();
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
    const { l1Weight, l2Weight } = this.options;
    this.logged.forEach((step, i) => {
      const at = (what: (typeof LOGGED)[number]) => values[i * LOGGED.length + LOGGED.indexOf(what)]!;
      const logged = Object.fromEntries(LOGGED.map((what) => [what, at(what)])) as Record<(typeof LOGGED)[number], number>;
      const bad = LOGGED.find((what) => !Number.isFinite(logged[what]));
      if (bad) {
        throw new MaskGITError(`training diverged at step ${step}: ${bad} loss ${logged[bad]} (reconstruction ${logged.reconstruction}, commitment ${logged.commitment}); lower the learning rate`);
      }
      const h = this.history;
      h.step.push(step);
      for (const what of LOGGED) h[what].push(logged[what]);
      h.loss.push(l2Weight * logged.reconstruction + l1Weight * logged.l1 + logged.commitment + logged.adaptiveWeight * logged.adversarial);
      h.learningRate.push(this.optimizer.learningRate(step));
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
    if (this.options.l1Weight > 0) losses.push({ name: 'reconstruction (l1)', color: [148, 103, 189], points: pairs(h.step, smooth(h.l1)) });
    const width = 900;
    const charts = [drawLineChart({ width, height: 340, title: 'training loss (smoothed)', xLabel: 'step', series: losses, logY: true })];
    const adversarialSteps = h.step.flatMap((s, i) => (this.adversarialAt(s) ? [i] : []));
    if (adversarialSteps.length > 1) {
      const smoothAt = (ys: number[]) => {
        const smoothed = smooth(adversarialSteps.map((i) => ys[i]!));
        return adversarialSteps.map((i, j) => [h.step[i]!, smoothed[j]!] as const);
      };
      charts.push(
        drawLineChart({
          width,
          height: 300,
          title: 'adversarial terms (smoothed)',
          xLabel: 'step',
          series: [
            { name: 'discriminator hinge loss', color: [214, 39, 40], points: smoothAt(h.discriminator) },
            { name: 'generator loss -mean d(x_rec)', color: [140, 86, 75], points: smoothAt(h.adversarial) },
          ],
        }),
      );
    }
    const evals: Series[] = [
      { name: 'held-out psnr (db)', color: [44, 160, 44], points: this.evals.map((e) => [e.step, e.psnr] as const) },
    ];
    charts.push(drawLineChart({ width, height: 300, title: 'held-out reconstruction psnr (db)', xLabel: 'step', series: evals }));
    const sharpness = this.evals.filter((e) => e.sharpness !== undefined);
    if (sharpness.length > 0) {
      const series: Series[] = [{ name: 'reconstruction / original gradient magnitude', color: [23, 190, 207], points: sharpness.map((e) => [e.step, e.sharpness] as const) }];
      charts.push(drawLineChart({ width, height: 260, title: 'held-out sharpness (1 = as sharp as the originals)', xLabel: 'step', series }));
    }
    return stackImages(charts);
  }

  /** The per-step numbers as CSV. */
  historyCsv(): string {
    const h = this.history;
    const lines = ['step,loss,reconstruction_mse,reconstruction_l1,commitment,adversarial,discriminator,adaptive_weight,learning_rate'];
    h.step.forEach((s, i) =>
      lines.push(`${s},${h.loss[i]},${h.reconstruction[i]},${h.l1[i]},${h.commitment[i]},${h.adversarial[i]},${h.discriminator[i]},${h.adaptiveWeight[i]},${h.learningRate[i]}`),
    );
    return lines.join('\n') + '\n';
  }

  /** The evaluations as CSV. */
  evalsCsv(): string {
    const lines = ['step,images,psnr,psnr_of_mean_error,mse,sharpness,codes_used,perplexity'];
    for (const e of this.evals) lines.push(`${e.step},${e.images},${e.psnr},${e.psnrOfMeanError},${e.mse},${e.sharpness ?? ''},${e.codesUsed},${e.perplexity}`);
    return lines.join('\n') + '\n';
  }

  /** training.json. */
  record(): TrainingRecordFile {
    return {
      format: 'maskgit-tokenizer-training',
      version: 2,
      step: this.step,
      options: { ...this.options },
      tokenizer: structuredClone(this.config),
      imageSize: this.data.train.size,
      data: { train: this.data.train.count, heldOut: this.data.heldOut.count },
      history: structuredClone(this.history),
      evals: structuredClone(this.evals),
      ...(this.initializedFrom !== null && { initializedFrom: this.initializedFrom }),
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

  /** Optimizer moments, codebook statistics and the discriminator (weights and moments) as safetensors entries. */
  async stateBytes(): Promise<TensorBytes[]> {
    const out: TensorBytes[] = [];
    // The optimizers' moments are copies for the checkpoint: freed once read.
    const moments = async (optimizer: AdamW) => {
      for (const [name, t] of optimizer.state()) {
        out.push(await tensorBytes(name, t));
        t.dispose();
      }
    };
    await moments(this.optimizer);
    for (const [name, t] of this.codebook.state(CODEBOOK_PARAM)) out.push(await tensorBytes(name, t));
    if (this.discriminator) {
      for (const [name, t] of this.discriminator.model.weights()) out.push(await tensorBytes(name, t));
      await moments(this.discriminator.optimizer);
    }
    return out;
  }

  dispose(): void {
    this.discriminator?.optimizer.dispose();
    this.discriminator?.model.dispose();
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
