// Training checkpoints (Node): a model folder (f32 weights of both parts, loadable as any model)
// with the optimizer's moments and the run's position beside the weights, all replaced in one
// atomic folder write.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from '../../errors.js';
import { loadModelWeights, loadSafetensors, type ModelFolderConfig } from '../../io/model.js';
import { writeModelFolder } from '../../io/node-files.js';
import type { TensorBytes } from '../../io/safetensors.js';
import type { Engine } from '../../tensor/engine.js';
import { f32ArrayToF16 } from '../../tensor/half.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { MaskGITConfig } from '../config.js';
import { tokenizerParams, transformerParams } from '../weights.js';
import type { MVTMOptions, MVTMTrainer } from './trainer.js';

export const TRAINING_STATE_TENSORS = 'training-state.safetensors';
export const TRAINING_STATE_FILE = 'training-state.json';

/** training-state.json: where the run is. With the weights and moments, all a resume needs. */
export interface TrainingState {
  format: 'maskgit-training-state';
  version: 1;
  /** Optimizer steps taken. */
  step: number;
  /** Examples consumed from the data stream (step * batch size): the data order is a function of (seed, position). */
  dataPosition: number;
  /** Seeds the data order, the MVTM masks and the dropout (all counter-based: nothing else to save). */
  seed: number;
  options: MVTMOptions;
  /** Anything the caller keeps with the run (its loss log position, the data set, ...). */
  extra?: Record<string, unknown>;
}

/** A tensor's current values as safetensors bytes (f32, or f16 converted on the host). */
export async function tensorBytes(name: string, t: Tensor, dtype: 'f32' | 'f16' = 'f32'): Promise<TensorBytes> {
  const values = (await t.read()) as Float32Array;
  const data = dtype === 'f16' ? new Uint8Array(f32ArrayToF16(values).buffer) : new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return { name, dtype: dtype === 'f16' ? 'F16' : 'F32', shape: [...t.shape], data };
}

/** The model folder's config for weights of both parts in `dtype`. */
function folderConfig(config: MaskGITConfig, dtype: 'f32' | 'f16'): ModelFolderConfig {
  return { ...config, dtype, contents: ['transformer', 'tokenizer'] };
}

async function modelTensors(trainer: MVTMTrainer, tokenizer: ReadonlyMap<string, Tensor>, dtype: 'f32' | 'f16'): Promise<TensorBytes[]> {
  const out: TensorBytes[] = [];
  const weights = trainer.model.weights();
  for (const s of transformerParams(trainer.config.transformer)) out.push(await tensorBytes(s.name, weights.get(s.name)!, dtype));
  for (const s of tokenizerParams(trainer.config.tokenizer)) out.push(await tensorBytes(s.name, tokenizer.get(s.name)!, dtype));
  return out;
}

/** Writes the trainer's state (f32 weights of both parts, moments, position) as one atomic model folder. */
export async function saveCheckpoint(dir: string, trainer: MVTMTrainer, tokenizer: ReadonlyMap<string, Tensor>, extra?: Record<string, unknown>): Promise<void> {
  const moments: TensorBytes[] = [];
  for (const [name, t] of trainer.optimizer.state()) {
    moments.push(await tensorBytes(name, t));
    t.dispose();
  }
  const state: TrainingState = {
    format: 'maskgit-training-state',
    version: 1,
    step: trainer.step,
    dataPosition: trainer.step * trainer.options.batchSize,
    seed: trainer.options.seed,
    options: trainer.options,
    ...(extra ? { extra } : {}),
  };
  await writeModelFolder(dir, folderConfig(trainer.config, 'f32'), await modelTensors(trainer, tokenizer, 'f32'), {
    extraFiles: [
      { name: TRAINING_STATE_TENSORS, data: { tensors: moments, metadata: { format: 'maskgit-adamw-moments' } } },
      { name: TRAINING_STATE_FILE, data: JSON.stringify(state, null, 2) + '\n' },
    ],
  });
}

/** Writes the trained model (both parts) as a plain model folder, in f16 by default (what ships). */
export async function exportModel(dir: string, trainer: MVTMTrainer, tokenizer: ReadonlyMap<string, Tensor>, dtype: 'f32' | 'f16' = 'f16'): Promise<void> {
  await writeModelFolder(dir, folderConfig(trainer.config, dtype), await modelTensors(trainer, tokenizer, dtype));
}

export interface LoadedCheckpoint {
  config: ModelFolderConfig;
  /** Transformer weights, f32, kept. */
  transformer: Map<string, Tensor>;
  /** Tokenizer weights, f32, kept. */
  tokenizer: Map<string, Tensor>;
  /** The optimizer's moments (AdamW.loadState), kept. */
  moments: Map<string, Tensor>;
  state: TrainingState;
}

/** Reads a checkpoint written by saveCheckpoint onto the GPU (f32). */
export async function loadCheckpoint(engine: Engine, dir: string): Promise<LoadedCheckpoint> {
  let state: TrainingState;
  try {
    state = JSON.parse(await readFile(join(dir, TRAINING_STATE_FILE), 'utf8')) as TrainingState;
  } catch (cause) {
    throw new CheckpointError(`${dir} is not a training checkpoint (no readable ${TRAINING_STATE_FILE})`, { cause });
  }
  if (state?.format !== 'maskgit-training-state' || state.version !== 1 || !Number.isInteger(state.step)) {
    throw new CheckpointError(`${join(dir, TRAINING_STATE_FILE)} is not a version 1 training state`);
  }
  const { config, weights } = await loadModelWeights(engine, dir, { dtype: 'f32', parts: ['transformer', 'tokenizer'] });
  const transformer = new Map<string, Tensor>();
  const tokenizer = new Map<string, Tensor>();
  for (const [name, t] of weights) (name.startsWith('transformer.') ? transformer : tokenizer).set(name, t);
  const { tensors: moments } = await loadSafetensors(engine, join(dir, TRAINING_STATE_TENSORS), { dtype: 'f32' });
  return { config, transformer, tokenizer, moments, state };
}
