// A whole tokenizer training run in a folder (Node: files on disk): periodic evaluation,
// sample grids, loss curves and checkpoints, resumable exactly. The CLI's train-tokenizer.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { loadModelWeights, loadSafetensors } from '../../io/model.js';
import { exists, writeModelFolder } from '../../io/node-files.js';
import { encodePNG } from '../../io/png.js';
import { ArgumentError, CheckpointError } from '../../errors.js';
import type { Engine } from '../../tensor/engine.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { TokenizerConfig } from '../config.js';
import { DISCRIMINATOR_PREFIX } from './discriminator.js';
import {
  TOKENIZER_PRESETS,
  TokenizerTrainer,
  tokenizerOnlyConfig,
  TRAINING_RECORD_FILE,
  TRAINING_STATE_FILE,
  type EvalRecord,
  type TokenizerTrainingOptions,
  type TrainingData,
  type TrainingRecordFile,
} from './tokenizer-trainer.js';

export const RUN_FILES = {
  checkpoint: 'checkpoint',
  model: 'model',
  training: 'training',
} as const;

export interface TokenizerRunOptions {
  /** The run's folder: checkpoint/, model/ and training/ go in it. */
  out: string;
  /** The architecture of a new run (a resumed run keeps its own). */
  config?: TokenizerConfig;
  /** Training options of a new run; for a resumed run only `steps` may differ from the checkpoint's. */
  training?: Partial<TokenizerTrainingOptions>;
  /** Continue the run in `out` from its checkpoint. */
  resume?: boolean;
  /**
   * A new run starts from this trained tokenizer instead of random weights: a model folder
   * holding a tokenizer, or a train-tokenizer checkpoint/ (whose discriminator is taken too).
   * Its architecture is the run's (`config`, when given, must match).
   */
  init?: string;
  /** Stop after this step (a checkpoint is written there); default the schedule's end. */
  until?: number;
  logEvery?: number;
  evalEvery?: number;
  /** Held-out images per periodic evaluation (0: all); the final one uses all. */
  evalImages?: number;
  sampleEvery?: number;
  checkpointEvery?: number;
  /** Storage of the exported tokenizer in model/. Default f16. */
  exportDType?: 'f32' | 'f16';
  classNames?: readonly string[];
  onEvent?: (event: TrainEvent) => void;
}

export type TrainEvent =
  | {
      type: 'start';
      step: number;
      steps: number;
      until: number;
      resumed: boolean;
      parameters: number;
      /** Parameters the optimizer updates (all but the codebook; the decoder's alone when decoderOnly). */
      trainedParameters: number;
      decoderOnly: boolean;
      /** Where the weights of a run that did not start from random ones came from. */
      initializedFrom: string | null;
      trainImages: number;
      heldOutImages: number;
    }
  | {
      type: 'log';
      step: number;
      steps: number;
      loss: number;
      reconstruction: number;
      l1: number;
      commitment: number;
      /** The generator's adversarial loss, the discriminator's hinge loss and the weight of the former (0 before the adversarial start). */
      adversarial: number;
      discriminator: number;
      adaptiveWeight: number;
      learningRate: number;
      examplesPerSecond: number;
      trainSeconds: number;
    }
  | ({ type: 'eval' } & EvalRecord)
  | { type: 'sample'; step: number; file: string }
  | { type: 'checkpoint'; step: number; dir: string }
  | { type: 'done'; step: number; steps: number; finished: boolean; trainSeconds: number; wallSeconds: number; examplesPerSecond: number; eval: EvalRecord | null; files: string[] };

/** An option that must be an integer >= 1 (both training runs check theirs with it). */
export function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new ArgumentError(name, `must be a positive integer, got ${value}`);
  return value;
}

/** Opens a run: a new one, or the one saved in `out` (its checkpoint read back to the GPU). */
async function openRun(engine: Engine, data: TrainingData, options: TokenizerRunOptions): Promise<{ trainer: TokenizerTrainer; resumed: boolean }> {
  const dir = join(options.out, RUN_FILES.checkpoint);
  const saved = await exists(join(dir, TRAINING_RECORD_FILE));
  if (!options.resume) {
    if (saved) throw new ArgumentError('--out', `${options.out} already holds a training run (${RUN_FILES.checkpoint}/); pass --resume to continue it, or choose another folder`);
    if (options.init !== undefined) return { trainer: await startFrom(engine, data, options.init, options), resumed: false };
    return { trainer: TokenizerTrainer.create(engine, data, options.config ?? TOKENIZER_PRESETS.small!, options.training), resumed: false };
  }
  if (options.init !== undefined) throw new ArgumentError('--init', `starts a new run; ${options.out} is resumed from its own checkpoint (leave out --init)`);
  if (!saved) throw new ArgumentError('--resume', `${options.out} holds no checkpoint to resume (${join(RUN_FILES.checkpoint, TRAINING_RECORD_FILE)} is missing)`);
  let record: TrainingRecordFile;
  try {
    record = JSON.parse(await readFile(join(dir, TRAINING_RECORD_FILE), 'utf8')) as TrainingRecordFile;
  } catch (cause) {
    throw new CheckpointError(`${join(dir, TRAINING_RECORD_FILE)} is not valid JSON (${(cause as Error).message})`, { cause });
  }
  if (record.format !== 'maskgit-tokenizer-training' || (record.version !== 1 && record.version !== 2)) {
    throw new CheckpointError(`${join(dir, TRAINING_RECORD_FILE)} is not a tokenizer training record of version 1 or 2`);
  }
  if (options.config && JSON.stringify(options.config) !== JSON.stringify(record.tokenizer)) {
    throw new ArgumentError('--config', `the checkpoint's tokenizer is ${JSON.stringify(record.tokenizer)}; resume without changing the architecture`);
  }
  const { weights } = await loadModelWeights(engine, dir, { dtype: 'f32', parts: ['tokenizer'] });
  const { tensors: state } = await loadSafetensors(engine, join(dir, TRAINING_STATE_FILE), { dtype: 'f32' });
  try {
    return { trainer: TokenizerTrainer.restore(data, weights, state, record, options.training), resumed: true };
  } finally {
    for (const t of state.values()) t.dispose(); // restore() copied them (recorded before any later reuse)
  }
}

/** A new run from the trained tokenizer in `dir` (and its discriminator, when `dir` is a checkpoint that has one). */
async function startFrom(engine: Engine, data: TrainingData, dir: string, options: TokenizerRunOptions): Promise<TokenizerTrainer> {
  const { config, weights } = await loadModelWeights(engine, dir, { dtype: 'f32', parts: ['tokenizer'] });
  const state = new Map<string, Tensor>();
  try {
    if (options.config && JSON.stringify(options.config) !== JSON.stringify(config.tokenizer)) {
      throw new ArgumentError('--config', `${dir} holds a tokenizer of ${JSON.stringify(config.tokenizer)}; leave out --config and --codebook-size to take its architecture`);
    }
    const statePath = join(dir, TRAINING_STATE_FILE);
    if (await exists(statePath)) {
      const { tensors } = await loadSafetensors(engine, statePath, { dtype: 'f32' });
      for (const [name, t] of tensors) {
        if (name.startsWith(`${DISCRIMINATOR_PREFIX}.`)) state.set(name, t);
        else t.dispose();
      }
    }
    return TokenizerTrainer.create(engine, data, config.tokenizer, options.training, { weights, ...(state.size > 0 && { discriminator: state }), from: dir });
  } finally {
    for (const t of [...weights.values(), ...state.values()]) t.dispose(); // create() copied them
  }
}

/**
 * Trains (or resumes) a tokenizer in `options.out` until `until` (default: the end of the
 * schedule), with periodic logs, evaluations, sample grids and checkpoints; at the end it
 * writes the checkpoint, the training artefacts and the exported tokenizer (model/).
 */
export async function runTokenizerTraining(engine: Engine, data: TrainingData, options: TokenizerRunOptions): Promise<{ trainer: TokenizerTrainer; lastEval: EvalRecord | null }> {
  const started = performance.now();
  const logEvery = positiveInteger('--log-every', options.logEvery ?? 10);
  const evalEvery = positiveInteger('--eval-every', options.evalEvery ?? 250);
  const sampleEvery = positiveInteger('--sample-every', options.sampleEvery ?? 250);
  const checkpointEvery = positiveInteger('--checkpoint-every', options.checkpointEvery ?? 250);
  const evalImages = options.evalImages ?? 0;
  const emit = options.onEvent ?? (() => undefined);
  const { trainer, resumed } = await openRun(engine, data, options);
  const wallBefore = trainer.wallSeconds;
  const steps = trainer.options.steps;
  const until = Math.min(options.until ?? steps, steps);
  if (!Number.isInteger(until) || until < 0) throw new ArgumentError('--until', `must be a step number >= 0, got ${options.until}`);
  const trainingDir = join(options.out, RUN_FILES.training);
  const parameters = [...trainer.model.weights().values()].reduce((n, t) => n + t.size, 0);
  const trainedParameters = [...trainer.model.params.values()].reduce((n, v) => n + v.value.size, 0);
  const initializedFrom = trainer.initializedFrom;
  emit({ type: 'start', step: trainer.step, steps, until, resumed, parameters, trainedParameters, decoderOnly: trainer.options.decoderOnly, initializedFrom, trainImages: data.train.count, heldOutImages: data.heldOut.count });

  const config = (dtype: 'f32' | 'f16') => tokenizerOnlyConfig(trainer.config, { imageSize: data.train.size, dtype, ...(options.classNames && { classNames: options.classNames }) });
  const writeArtefacts = async () => {
    await writeFileAtomic(join(trainingDir, 'loss.png'), encodePNG(trainer.lossPlot()));
    await writeFileAtomic(join(trainingDir, 'losses.csv'), trainer.historyCsv());
    await writeFileAtomic(join(trainingDir, 'evals.csv'), trainer.evalsCsv());
    await writeFileAtomic(join(trainingDir, 'history.json'), JSON.stringify(trainer.record()) + '\n');
  };
  const checkpoint = async () => {
    await trainer.flushLog();
    trainer.wallSeconds = wallBefore + (performance.now() - started) / 1000;
    const dir = join(options.out, RUN_FILES.checkpoint);
    await writeModelFolder(dir, config('f32'), await trainer.weightBytes('F32'), {
      metadata: { source: 'maskgit train-tokenizer', step: String(trainer.step) },
      extraFiles: [
        { name: TRAINING_STATE_FILE, data: { tensors: await trainer.stateBytes() } },
        { name: TRAINING_RECORD_FILE, data: JSON.stringify(trainer.record()) + '\n' },
      ],
    });
    await writeArtefacts();
    emit({ type: 'checkpoint', step: trainer.step, dir });
  };
  const sample = async () => {
    const file = join(trainingDir, 'samples', `step-${String(trainer.step).padStart(6, '0')}.png`);
    const png = encodePNG(await trainer.sampleGrid());
    await writeFileAtomic(file, png);
    await writeFileAtomic(join(trainingDir, 'reconstructions.png'), png);
    emit({ type: 'sample', step: trainer.step, file });
  };

  let lastEval: EvalRecord | null = trainer.evals[trainer.evals.length - 1] ?? null;
  let segment = performance.now(); // training time since the last pause for evaluation or I/O
  let window = { at: performance.now(), step: trainer.step, seconds: trainer.trainSeconds };
  const pause = async () => {
    await engine.sync();
    trainer.trainSeconds += (performance.now() - segment) / 1000;
  };
  while (trainer.step < until) {
    trainer.trainStep();
    const s = trainer.step;
    const last = s === until;
    if (s % logEvery === 0 || last) {
      await trainer.flushLog();
      await pause();
      const h = trainer.history;
      const i = h.step.length - 1;
      const seconds = trainer.trainSeconds - window.seconds;
      emit({
        type: 'log',
        step: s,
        steps,
        loss: h.loss[i]!,
        reconstruction: h.reconstruction[i]!,
        l1: h.l1[i]!,
        commitment: h.commitment[i]!,
        adversarial: h.adversarial[i]!,
        discriminator: h.discriminator[i]!,
        adaptiveWeight: h.adaptiveWeight[i]!,
        learningRate: h.learningRate[i]!,
        examplesPerSecond: seconds > 0 ? ((s - window.step) * trainer.options.batchSize) / seconds : 0,
        trainSeconds: trainer.trainSeconds,
      });
      window = { at: performance.now(), step: s, seconds: trainer.trainSeconds };
      segment = performance.now();
    }
    if (s % evalEvery === 0 || last || s % sampleEvery === 0 || s % checkpointEvery === 0) {
      await pause();
      if (s % evalEvery === 0 || last) {
        lastEval = await trainer.evaluate(last ? 0 : evalImages);
        emit({ type: 'eval', ...lastEval });
      }
      if (s % sampleEvery === 0 || last) await sample();
      if (s % checkpointEvery === 0 || last) await checkpoint();
      segment = performance.now();
    }
  }
  const files: string[] = [];
  if (until > 0 || resumed) {
    // The tokenizer on its own, for use (and for the transformer's training next).
    const modelDir = join(options.out, RUN_FILES.model);
    const dtype = options.exportDType ?? 'f16';
    await writeModelFolder(modelDir, config(dtype), await trainer.weightBytes(dtype === 'f16' ? 'F16' : 'F32'), {
      metadata: { source: 'maskgit train-tokenizer', step: String(trainer.step) },
    });
    files.push(modelDir, join(options.out, RUN_FILES.checkpoint), trainingDir);
  }
  trainer.wallSeconds = wallBefore + (performance.now() - started) / 1000;
  const trained = trainer.step * trainer.options.batchSize;
  emit({
    type: 'done',
    step: trainer.step,
    steps,
    finished: trainer.step >= steps,
    trainSeconds: trainer.trainSeconds,
    wallSeconds: trainer.wallSeconds,
    examplesPerSecond: trainer.trainSeconds > 0 ? trained / trainer.trainSeconds : 0,
    eval: lastEval,
    files,
  });
  return { trainer, lastEval };
}

export { TOKENIZER_PRESETS };
