import philoxSource from '../../kernels/philox.wgsl';
import sampleSource from '../../kernels/sample.wgsl';
import { ArgumentError, ShapeError } from '../errors.js';
import { f32, i32 } from '../tensor/engine.js';
import { defineKernel } from '../tensor/kernel.js';
import type { Tensor } from '../tensor/tensor.js';

const SAMPLE = defineKernel('sample', philoxSource + '\n' + sampleSource);
const WG = 64;

export interface SampleStepOptions {
  /** Entries 0..codebookSize-1 of each logits row are sampled (class and mask ids never). */
  codebookSize: number;
  maskTokenId: number;
  /** The step index t (counter word of the noise streams). */
  step: number;
  /** Sampling temperature; 0 takes the argmax with no noise. */
  temperature: number;
  /** choice_temperature * (1 - ratio): the scale of the confidence's Gumbel noise. */
  choiceScale: number;
  /** Keep the k largest logits (ties kept); 0 or >= codebookSize: off. */
  topK?: number;
  /** Keep the smallest set of largest entries holding at least this mass; 1: off. */
  topP?: number;
  /**
   * Classifier-free guidance scale s: logits = uncond + s * (cond - uncond), the logits
   * holding 2B rows (B conditional, then B unconditional). Omit for plain logits.
   */
  guidance?: number;
}

export interface SampleStepResult {
  /** [B, L]: the drawn token at unknown positions, the current token elsewhere. */
  sampled: Tensor<'i32'>;
  /** [B, L]: log p(sampled) + choiceScale * Gumbel at unknown positions, +inf elsewhere. */
  confidence: Tensor<'f32'>;
}

/**
 * One decode step's sampling and confidence (kernels/sample.wgsl): logits [B or 2B, L, V]
 * (f32 or f16), tokens [B', L] i32 (its first B rows are the state; B' >= B), seeds [B] u32
 * (one noise stream per image). Writes into `out` when given (buffers reused across steps).
 */
export function sampleStep(
  logits: Tensor,
  tokens: Tensor<'i32'>,
  seeds: Tensor<'u32'>,
  options: SampleStepOptions,
  out?: SampleStepResult,
): SampleStepResult {
  const engine = logits.engine;
  const guided = options.guidance !== undefined;
  if (logits.rank !== 3 || (logits.dtype !== 'f32' && logits.dtype !== 'f16')) {
    throw new ShapeError(`sampleStep: logits must be f32 or f16 [B, L, vocab], got ${logits.dtype} [${logits.shape.join(', ')}]`);
  }
  const [rowsIn, length, vocab] = logits.shape as [number, number, number];
  if (guided && rowsIn % 2 !== 0) {
    throw new ShapeError(`sampleStep: guided logits hold 2B rows (conditional then unconditional), got ${rowsIn}`);
  }
  const batch = guided ? rowsIn / 2 : rowsIn;
  if (tokens.dtype !== 'i32' || tokens.rank !== 2 || tokens.shape[1] !== length || tokens.shape[0]! < batch) {
    throw new ShapeError(`sampleStep: tokens must be i32 [>= ${batch}, ${length}], got ${tokens.dtype} [${tokens.shape.join(', ')}]`);
  }
  if (seeds.dtype !== 'u32' || seeds.size !== batch) {
    throw new ShapeError(`sampleStep: seeds must be u32 [${batch}], got ${seeds.dtype} [${seeds.shape.join(', ')}]`);
  }
  const { codebookSize, temperature, choiceScale } = options;
  if (!Number.isInteger(codebookSize) || codebookSize < 1 || codebookSize > vocab) {
    throw new ArgumentError('codebookSize', `must be an integer in [1, ${vocab}] (the logits' vocabulary), got ${codebookSize}`);
  }
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new ArgumentError('temperature', `must be a finite number >= 0, got ${temperature}`);
  if (!Number.isFinite(choiceScale)) throw new ArgumentError('choiceScale', `must be finite, got ${choiceScale}`);
  const topK = options.topK ?? 0;
  const topP = options.topP ?? 1;
  if (!Number.isInteger(topK) || topK < 0) throw new ArgumentError('topK', `must be an integer >= 0, got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new ArgumentError('topP', `must be in (0, 1], got ${topP}`);
  if (guided && !Number.isFinite(options.guidance)) throw new ArgumentError('guidance', `must be finite, got ${options.guidance}`);
  const rows = batch * length;
  const result = out ?? { sampled: engine.empty([batch, length], 'i32'), confidence: engine.empty([batch, length], 'f32') };
  for (const [name, t] of [['sampled', result.sampled], ['confidence', result.confidence]] as const) {
    if (t.size !== rows) throw new ShapeError(`sampleStep: out.${name} must hold [${batch}, ${length}], got [${t.shape.join(', ')}]`);
  }
  if (rows === 0) return result;
  engine.run({
    kernel: SAMPLE,
    defines: { T: logits.dtype, WG },
    params: [
      rows,
      length,
      vocab,
      codebookSize,
      guided ? rows * vocab : 0,
      i32(options.maskTokenId),
      options.step,
      topK,
      f32(temperature),
      f32(choiceScale),
      f32(options.guidance ?? 1),
      f32(topP),
    ],
    inputs: [logits, tokens, seeds],
    outputs: [result.sampled, result.confidence],
    workgroups: engine.grid(rows),
  });
  return result;
}
