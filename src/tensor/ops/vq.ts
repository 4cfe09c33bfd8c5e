import vqSource from '../../../kernels/vq.wgsl';
import { ShapeError } from '../../errors.js';
import { defineKernel } from '../kernel.js';
import type { Tensor } from '../tensor.js';
import type { FloatDType } from './conv.js';
import { lanesFor } from './groupnorm.js';

const VQ = defineKernel('vq', vqSource);
/** Latent vectors per workgroup of the nearest-code search. */
const POSITIONS = 8;
const SEARCH_LANES = 64;

function checkCodebook(op: string, codebook: Tensor): [number, number] {
  if (codebook.rank !== 2) throw new ShapeError(`${op}: codebook must be [K, D], got [${codebook.shape.join(', ')}]`);
  if (codebook.dtype !== 'f32' && codebook.dtype !== 'f16') throw new ShapeError(`${op}: codebook must be f32 or f16, got ${codebook.dtype}`);
  return codebook.shape as [number, number];
}

/**
 * The nearest codebook row of every latent vector: `latents` [..., D] against `codebook`
 * [K, D] by |a|^2 - 2 a.b + |b|^2 (f32), ties to the lowest index. Returns i32 ids shaped
 * like `latents` without its last axis.
 */
export function vqNearest<D extends FloatDType>(latents: Tensor<D>, codebook: Tensor<D>): Tensor<'i32'> {
  const engine = latents.engine;
  const [K, D] = checkCodebook('vqNearest', codebook);
  if (latents.rank < 1 || latents.shape[latents.rank - 1] !== D) {
    throw new ShapeError(`vqNearest: latents must end in the codebook width ${D}, got [${latents.shape.join(', ')}]`);
  }
  if (latents.dtype !== codebook.dtype) throw new ShapeError(`vqNearest: latents are ${latents.dtype} but the codebook is ${codebook.dtype}; cast one first`);
  if (K === 0) throw new ShapeError('vqNearest: the codebook is empty');
  const N = latents.size / Math.max(D, 1);
  const tokens = engine.empty(latents.shape.slice(0, -1), 'i32');
  if (N === 0) return tokens;
  const vec = D % 4 === 0;
  const groups = Math.ceil(N / POSITIONS);
  if (groups > engine.device.limits.maxComputeWorkgroupsPerDimension) throw new ShapeError(`vqNearest: ${N} vectors exceed one dispatch; split them`);
  engine.run({
    kernel: VQ,
    defines: {
      T: latents.dtype,
      VEC: vec,
      WG: SEARCH_LANES,
      P: POSITIONS,
      RED: POSITIONS * SEARCH_LANES,
      NEAREST: true,
      LOOKUP: false,
      SUBGROUPS: engine.hasSubgroups,
    },
    params: [N, K, vec ? D / 4 : D],
    inputs: [latents, codebook],
    outputs: [tokens],
    workgroups: [groups],
  });
  return tokens;
}

/** Codebook rows for token ids: `tokens` i32 [...] -> [..., D] (ids clamped into [0, K)). */
export function codebookLookup<D extends FloatDType>(tokens: Tensor<'i32'>, codebook: Tensor<D>): Tensor<D> {
  const engine = tokens.engine;
  const [K, D] = checkCodebook('codebookLookup', codebook);
  if (tokens.dtype !== 'i32') throw new ShapeError(`codebookLookup: tokens must be i32, got ${tokens.dtype}`);
  if (K === 0) throw new ShapeError('codebookLookup: the codebook is empty');
  const out = engine.empty([...tokens.shape, D], codebook.dtype);
  if (out.size === 0) return out;
  const vec = D % 4 === 0;
  const dv = vec ? D / 4 : D;
  engine.run({
    kernel: VQ,
    defines: { T: codebook.dtype, VEC: vec, WG: lanesFor(dv), P: 1, RED: 1, NEAREST: false, LOOKUP: true, SUBGROUPS: false },
    params: [tokens.size, K, dv],
    inputs: [tokens, codebook],
    outputs: [out],
    workgroups: engine.grid(tokens.size),
  });
  return out;
}
