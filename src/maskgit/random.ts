import philoxSource from '../../kernels/philox.wgsl';
import randomSource from '../../kernels/random.wgsl';
import { ArgumentError, ShapeError } from '../errors.js';
import { defineKernel } from '../tensor/kernel.js';
import type { Tensor } from '../tensor/tensor.js';

const RANDOM = defineKernel('random', philoxSource + '\n' + randomSource);
const WG = 64;

export type RandomKind = 'bits' | 'uniform' | 'gumbel';

export interface RandomStreamOptions {
  /** Stream purpose (RNG_PURPOSE in rng.ts, or your own number). */
  purpose: number;
  step: number;
  /** P: counter word 1 runs over 0..P-1. */
  positions: number;
  /** I: entries per position (counter word 0 = i / 4, word i % 4 of the block). */
  length: number;
}

/**
 * The Philox stream of each row's seed on the GPU: out[r, p, i] is word i % 4 of the block
 * of stream (seeds[r], purpose) at counter (i / 4, p, step, 0), as raw bits (u32), a
 * uniform in (0, 1) or Gumbel noise (f32). The host mirror is rng.ts.
 */
export function randomStream<K extends RandomKind>(
  seeds: Tensor<'u32'>,
  kind: K,
  options: RandomStreamOptions,
): Tensor<K extends 'bits' ? 'u32' : 'f32'> {
  const engine = seeds.engine;
  if (seeds.dtype !== 'u32' || seeds.rank !== 1) {
    throw new ShapeError(`randomStream: seeds must be a u32 vector [rows], got ${seeds.dtype} [${seeds.shape.join(', ')}]`);
  }
  const { purpose, step, positions, length } = options;
  for (const [name, v] of Object.entries({ purpose, step, positions, length })) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ArgumentError(name, `must be an integer in [0, 2^32), got ${v}`);
  }
  const rows = seeds.shape[0]!;
  const dtype = (kind === 'bits' ? 'u32' : 'f32') as K extends 'bits' ? 'u32' : 'f32';
  const out = engine.empty([rows, positions, length], dtype);
  if (out.size === 0) return out;
  engine.run({
    kernel: RANDOM,
    defines: { OUT: dtype, BITS: kind === 'bits', GUMBEL: kind === 'gumbel', WG },
    params: [length, positions, purpose, step],
    inputs: [seeds],
    outputs: [out],
    workgroups: [Math.ceil(Math.ceil(length / 4) / WG), positions, rows],
  });
  return out;
}
