import topkSource from '../../kernels/topk.wgsl';
import { ShapeError } from '../errors.js';
import type { Engine } from '../tensor/engine.js';
import { i32 } from '../tensor/engine.js';
import { defineKernel, type Defines } from '../tensor/kernel.js';
import type { Tensor } from '../tensor/tensor.js';

const TOPK = defineKernel('topk', topkSource);
/** Rows up to this length are selected in one dispatch, their keys in workgroup memory. */
export const SINGLE_DISPATCH_MAX = 2048;
const ITEMS = 8;
const CHUNK = 256 * ITEMS;

export interface SelectOptions {
  /** Use the multi-pass path even for short rows (it is taken anyway past SINGLE_DISPATCH_MAX). */
  multiPass?: boolean;
}

type Stage = 'SINGLE' | 'HIST' | 'PICK' | 'APPLY';

function stageDefines(stage: Stage, remask: boolean): Defines {
  return {
    SINGLE: stage === 'SINGLE',
    HIST: stage === 'HIST',
    PICK: stage === 'PICK',
    APPLY: stage === 'APPLY',
    SEARCH: stage === 'SINGLE' || stage === 'PICK',
    ATOMIC_COUNTS: stage === 'SINGLE' || stage === 'HIST',
    REMASK: remask,
    ROW_MAX: SINGLE_DISPATCH_MAX,
    ITEMS,
  };
}

function checkRows(engine: Engine, rows: number, multiPass: boolean): void {
  const max = engine.device.limits.maxComputeWorkgroupsPerDimension;
  if (multiPass && rows > max) throw new ShapeError(`selection over ${rows} rows longer than ${SINGLE_DISPATCH_MAX}: at most ${max} rows per call`);
}

/**
 * The value at ascending sorted index ranks[r] of each row of `values` [R, N] (f32), as a
 * sort would give it (equal values tie harmlessly); ranks at or past N give +inf and
 * negative ranks count as 0. One dispatch for N <= 2048; beyond, a radix select in eight
 * dispatches (four histogram passes over chunks of the rows, each followed by a digit pick).
 */
export function kthSmallest(values: Tensor<'f32'>, ranks: Tensor<'i32'>, options: SelectOptions = {}): Tensor<'f32'> {
  const engine = values.engine;
  if (values.dtype !== 'f32' || values.rank !== 2) {
    throw new ShapeError(`kthSmallest: values must be f32 [rows, n], got ${values.dtype} [${values.shape.join(', ')}]`);
  }
  const [rows, length] = values.shape as [number, number];
  if (ranks.dtype !== 'i32' || ranks.size !== rows) {
    throw new ShapeError(`kthSmallest: ranks must be i32 [${rows}], got ${ranks.dtype} [${ranks.shape.join(', ')}]`);
  }
  if (length === 0 && rows > 0) throw new ShapeError('kthSmallest: rows must not be empty');
  const out = engine.empty([rows], 'f32');
  if (rows === 0) return out;
  const multiPass = options.multiPass === true || length > SINGLE_DISPATCH_MAX;
  checkRows(engine, rows, multiPass);
  const params = (pass: number) => [rows, length, i32(0), 0, 0, pass, 0, 0];
  if (!multiPass) {
    engine.run({ kernel: TOPK, defines: stageDefines('SINGLE', false), params: params(0), inputs: [values, ranks], outputs: [out], workgroups: engine.grid(rows) });
    return out;
  }
  engine.tidy(() => {
    const { hist, state } = multiPassScratch(engine, rows);
    for (let pass = 0; pass < 4; pass++) {
      engine.run({ kernel: TOPK, defines: stageDefines('HIST', false), params: params(pass), inputs: [values], outputs: [hist, state], workgroups: [Math.ceil(length / CHUNK), rows] });
      engine.run({ kernel: TOPK, defines: stageDefines('PICK', false), params: params(pass), inputs: [ranks], outputs: [hist, state, out], workgroups: engine.grid(rows) });
    }
  });
  return out;
}

export interface RemaskOptions extends SelectOptions {
  maskTokenId: number;
  /** Row of `cuts` to use (the step index). */
  step: number;
  /** Also write each row's tokens B rows further on (the unconditional half of a guided batch). */
  mirror?: boolean;
}

/**
 * The official re-masking of one decode step, in place on `tokens` [B or 2B, L]: per image
 * b, mask_len = max(1, min(unknown - 1, cuts[step, b])) with unknown counted from the
 * tokens; unknown positions whose confidence is strictly below the value at sorted index
 * mask_len get the mask id again, the other unknown positions their sampled token; known
 * positions are untouched. confidence and sampled are [B, L] (sampleStep's outputs).
 */
export function remaskByConfidence(
  confidence: Tensor<'f32'>,
  sampled: Tensor<'i32'>,
  tokens: Tensor<'i32'>,
  cuts: Tensor<'i32'>,
  options: RemaskOptions,
): void {
  const engine = confidence.engine;
  if (confidence.dtype !== 'f32' || confidence.rank !== 2) {
    throw new ShapeError(`remask: confidence must be f32 [B, L], got ${confidence.dtype} [${confidence.shape.join(', ')}]`);
  }
  const [rows, length] = confidence.shape as [number, number];
  if (sampled.dtype !== 'i32' || sampled.size !== rows * length) {
    throw new ShapeError(`remask: sampled must be i32 [${rows}, ${length}], got ${sampled.dtype} [${sampled.shape.join(', ')}]`);
  }
  const mirror = options.mirror === true;
  const tokenRows = mirror ? 2 * rows : rows;
  if (tokens.dtype !== 'i32' || tokens.size !== tokenRows * length) {
    throw new ShapeError(`remask: tokens must be i32 [${tokenRows}, ${length}]${mirror ? ' (mirrored: conditional then unconditional rows)' : ''}, got ${tokens.dtype} [${tokens.shape.join(', ')}]`);
  }
  if (cuts.dtype !== 'i32' || cuts.rank !== 2 || cuts.shape[1] !== rows || !(options.step >= 0 && options.step < cuts.shape[0]!)) {
    throw new ShapeError(`remask: cuts must be i32 [steps, ${rows}] with step ${options.step} in range, got ${cuts.dtype} [${cuts.shape.join(', ')}]`);
  }
  if (rows === 0 || length === 0) return;
  const multiPass = options.multiPass === true || length > SINGLE_DISPATCH_MAX;
  checkRows(engine, rows, multiPass);
  const params = (pass: number) => [rows, length, i32(options.maskTokenId), options.step, mirror ? rows * length : 0, pass, 0, 0];
  if (!multiPass) {
    engine.run({ kernel: TOPK, defines: stageDefines('SINGLE', true), params: params(0), inputs: [confidence, sampled, cuts], outputs: [tokens], workgroups: engine.grid(rows) });
    return;
  }
  engine.tidy(() => {
    const { hist, state } = multiPassScratch(engine, rows);
    for (let pass = 0; pass < 4; pass++) {
      engine.run({ kernel: TOPK, defines: stageDefines('HIST', true), params: params(pass), inputs: [confidence, tokens], outputs: [hist, state], workgroups: [Math.ceil(length / CHUNK), rows] });
      engine.run({ kernel: TOPK, defines: stageDefines('PICK', true), params: params(pass), inputs: [cuts], outputs: [hist, state], workgroups: engine.grid(rows) });
    }
    engine.run({ kernel: TOPK, defines: stageDefines('APPLY', true), params: params(0), inputs: [confidence, sampled, state], outputs: [tokens], workgroups: [Math.ceil(length / CHUNK), rows] });
  });
}

/** Zeroed per-row digit histograms [R, 256] and states [R, 4] of the multi-pass select. */
function multiPassScratch(engine: Engine, rows: number): { hist: Tensor<'u32'>; state: Tensor<'u32'> } {
  return { hist: engine.zeros([rows, 256], 'u32'), state: engine.zeros([rows, 4], 'u32') };
}
