import { ArgumentError } from '../../errors.js';
import { backward } from '../../tensor/autograd.js';
import type { Engine } from '../../tensor/engine.js';
import * as grad from '../../tensor/grad/index.js';
import { scale } from '../../tensor/ops/unary.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { MaskGITConfig } from '../config.js';
import type { MaskSchedule } from '../schedule.js';
import { TrainableTransformer } from './model.js';
import { batchAt, maskBatch, TrainingOrder, type MaskingOptions, type TokenData } from './mvtm.js';
import { AdamW, warmupCosine } from './optimizer.js';

/** What an MVTM run trains with. Defaults follow the official config hints (REFERENCE.md). */
export interface MVTMOptions {
  batchSize: number;
  /** Steps of the whole run (the learning-rate schedule's length). */
  totalSteps: number;
  /** Peak learning rate (after warm-up). Official: 1e-4 at batch 256. */
  learningRate: number;
  /** Linear warm-up steps. Official: 5000 (of a much longer run). */
  warmupSteps: number;
  /** Where the cosine decay ends. Default 0. */
  finalLearningRate?: number;
  /** Official: 0.9, 0.96. */
  beta1?: number;
  beta2?: number;
  /** Decoupled, on matrices (official: 0.045). */
  weightDecay?: number;
  /** Global gradient-norm clipping (0: none). Default 1. */
  maxGradNorm?: number;
  /** Hidden dropout. Official: 0.1. */
  dropout?: number;
  /** Official: 0.1. */
  labelSmoothing?: number;
  /** Probability of training an example as the null class (classifier-free guidance). Default 0.1. */
  classDropout?: number;
  /** Default 'cosine'. */
  schedule?: MaskSchedule;
  /** Seeds the data order, the masks and the dropout. */
  seed?: number;
}

export interface StepResult {
  step: number;
  /** Label-smoothed cross-entropy over the batch's masked tokens (what is minimised). */
  loss: number;
  learningRate: number;
  maskedTokens: number;
}

export interface MaskedTokenEval {
  /** Plain (unsmoothed) cross-entropy per masked token, in nats. */
  loss: number;
  /** Fraction of masked tokens whose argmax prediction is the true token. */
  accuracy: number;
  maskedTokens: number;
}

/**
 * Trains a MaskGIT transformer on tokenized images with MVTM: each step masks a batch (a pure
 * function of (seed, step)), runs the differentiable transformer with dropout, takes the
 * label-smoothed cross-entropy on the masked positions, backpropagates, and applies AdamW with
 * global-norm clipping and a warm-up + cosine learning rate. Everything but the step's loss stays
 * on the GPU; the state (weights, moments, step) resumes exactly (see checkpoint.ts).
 */
export class MVTMTrainer {
  readonly engine: Engine;
  readonly config: MaskGITConfig;
  readonly model: TrainableTransformer;
  readonly optimizer: AdamW;
  readonly options: Required<Omit<MVTMOptions, 'finalLearningRate'>> & { finalLearningRate: number };
  private readonly order: TrainingOrder;
  private readonly masking: MaskingOptions;

  constructor(
    engine: Engine,
    config: MaskGITConfig,
    weights: ReadonlyMap<string, Tensor>,
    readonly data: TokenData,
    options: MVTMOptions,
  ) {
    for (const name of ['batchSize', 'totalSteps'] as const) {
      if (!Number.isInteger(options[name]) || options[name] < 1) throw new ArgumentError(name, `must be a positive integer, got ${options[name]}`);
    }
    if (!Number.isInteger(options.warmupSteps) || options.warmupSteps < 0) throw new ArgumentError('warmupSteps', `must be an integer >= 0, got ${options.warmupSteps}`);
    if (!(options.learningRate > 0)) throw new ArgumentError('learningRate', `must be > 0, got ${options.learningRate}`);
    if (data.length + 1 > config.transformer.maxPositions) throw new ArgumentError('data', `${data.length} tokens per image do not fit ${config.transformer.maxPositions} positions`);
    this.engine = engine;
    this.config = config;
    this.options = {
      ...options,
      finalLearningRate: options.finalLearningRate ?? 0,
      beta1: options.beta1 ?? 0.9,
      beta2: options.beta2 ?? 0.96,
      weightDecay: options.weightDecay ?? 0.045,
      maxGradNorm: options.maxGradNorm ?? 1,
      dropout: options.dropout ?? 0.1,
      labelSmoothing: options.labelSmoothing ?? 0.1,
      classDropout: options.classDropout ?? 0.1,
      schedule: options.schedule ?? 'cosine',
      seed: options.seed ?? 0,
    };
    const o = this.options;
    this.model = new TrainableTransformer(weights, config.transformer);
    this.optimizer = new AdamW(this.model.params, {
      learningRate: warmupCosine({ peak: o.learningRate, warmup: o.warmupSteps, total: o.totalSteps, final: o.finalLearningRate }),
      beta1: o.beta1,
      beta2: o.beta2,
      weightDecay: o.weightDecay,
      maxGradNorm: o.maxGradNorm,
    });
    this.order = new TrainingOrder(data.count, o.seed);
    this.masking = {
      seed: o.seed,
      codebookSize: config.codebookSize,
      maskTokenId: config.maskTokenId,
      nullClassId: config.nullClassId,
      classDropout: o.classDropout,
      schedule: o.schedule,
    };
  }

  /** Steps taken so far (the next step's index). */
  get step(): number {
    return this.optimizer.step;
  }

  /** One training step; resolves with its loss once the GPU has run it. */
  async trainStep(): Promise<StepResult> {
    const engine = this.engine;
    const step = this.step;
    const o = this.options;
    const { tokens, labels, draws } = batchAt(this.data, this.order, step, o.batchSize);
    const batch = maskBatch(tokens, labels, draws, this.masking);
    const lr = this.optimizer.learningRate(step);
    engine.beginScope();
    let lossCopy: Tensor | undefined;
    try {
      const loss = this.maskedLoss(batch.inputs, batch.targets, batch.weights, batch.maskedTotal, {
        smoothing: o.labelSmoothing,
        dropout: { rate: o.dropout, seed: o.seed, step },
      });
      lossCopy = scale(loss.value, 1); // the graph's values are freed by backward
      backward(loss);
      this.optimizer.update();
    } finally {
      engine.endScope(lossCopy);
    }
    const loss = (await lossCopy.read())[0]!;
    lossCopy.dispose();
    return { step, loss, learningRate: lr, maskedTokens: batch.maskedTotal };
  }

  /** The loss Variable of a masked batch (inputs/targets/weights [B, 1 + N] flattened). */
  private maskedLoss(inputs: Int32Array, targets: Int32Array, weights: Float32Array, weightSum: number, o: { smoothing: number; dropout?: { rate: number; seed: number; step: number } }) {
    const engine = this.engine;
    const L = this.data.length + 1;
    const B = inputs.length / L;
    const C = this.config.codebookSize;
    const logits = this.model.forward(engine.tensor(inputs, [B, L], 'i32'), { logitsColumns: C, ...(o.dropout ? { dropout: o.dropout } : {}) });
    return grad.softmaxCrossEntropy(grad.reshape(logits, [B * L, C]), engine.tensor(targets, [B * L], 'i32'), engine.tensor(weights, [B * L]), {
      smoothing: o.smoothing,
      weightSum: Math.max(1, weightSum),
    });
  }

  /**
   * Masked-token loss and accuracy on other data (held-out images), without dropout or class
   * dropout, with masks drawn from `seed` (fixed, so that evaluations are comparable over a run).
   */
  async evaluate(data: TokenData, options: { batchSize?: number; seed?: number } = {}): Promise<MaskedTokenEval> {
    return evaluateMaskedTokens(this.model, this.config, data, { ...options, schedule: this.options.schedule });
  }
}

/**
 * Masked-token cross-entropy (nats, unsmoothed) and argmax accuracy of a transformer on `data`:
 * every example once, masked as in training (cosine MVTM) with masks from `seed`, no dropout.
 */
export async function evaluateMaskedTokens(
  model: TrainableTransformer,
  config: MaskGITConfig,
  data: TokenData,
  options: { batchSize?: number; seed?: number; schedule?: MaskSchedule } = {},
): Promise<MaskedTokenEval> {
  const batchSize = options.batchSize ?? 64;
  const C = config.codebookSize;
  const N = data.length;
  const L = N + 1;
  const engine = model.params.values().next().value!.value.engine;
  let lossSum = 0;
  let correct = 0;
  let total = 0;
  for (let first = 0; first < data.count; first += batchSize) {
    const B = Math.min(batchSize, data.count - first);
    const draws = Array.from({ length: B }, (_, b) => first + b);
    const batch = maskBatch(data.tokens.subarray(first * N, (first + B) * N), data.labels.subarray(first, first + B), draws, {
      seed: options.seed ?? 0x5eed,
      codebookSize: C,
      maskTokenId: config.maskTokenId,
      nullClassId: config.nullClassId,
      classDropout: 0,
      schedule: options.schedule ?? 'cosine',
    });
    engine.beginScope();
    let logits: Float32Array;
    try {
      const out = model.forward(engine.tensor(batch.inputs, [B, L], 'i32'), { logitsColumns: C });
      logits = (await out.value.read()) as Float32Array;
    } finally {
      engine.endScope();
    }
    for (let r = 0; r < B * L; r++) {
      if (batch.weights[r] === 0) continue;
      const row = logits.subarray(r * C, (r + 1) * C);
      let best = 0;
      for (let c = 1; c < C; c++) if (row[c]! > row[best]!) best = c;
      let sum = 0;
      for (let c = 0; c < C; c++) sum += Math.exp(row[c]! - row[best]!);
      lossSum += Math.log(sum) + row[best]! - row[batch.targets[r]!]!;
      correct += best === batch.targets[r] ? 1 : 0;
      total++;
    }
  }
  return { loss: lossSum / Math.max(1, total), accuracy: correct / Math.max(1, total), maskedTokens: total };
}
