import { ArgumentError, ShapeError } from '../../errors.js';
import { record, type Variable } from '../autograd.js';
import * as ops from '../ops/index.js';
import type { FloatDType } from '../ops/conv.js';
import type { Tensor } from '../tensor.js';

export interface VectorQuantized {
  /** z_q = z + sg(q - z): the nearest codebook rows forward, the identity backward (straight-through). */
  quantized: Variable;
  /** beta * mean((z - sg(q))^2), a scalar [1]: pulls the encoder's outputs towards their codes. */
  commitment: Variable;
  /** The nearest code of every latent vector, i32 shaped like z without its last axis (the caller frees it). */
  tokens: Tensor<'i32'>;
}

/**
 * Vector quantization for training (van den Oord et al. 2017): nearest codes by the
 * inference kernel (ops.vqNearest, ties to the lowest id), the straight-through estimator for
 * the decoder's gradient, and the commitment loss. The codebook is a plain tensor: it gets no
 * gradient here (it is learned by EMA updates, maskgit/train/codebook.ts).
 */
export function vectorQuantize(z: Variable, codebook: Tensor, beta: number): VectorQuantized {
  if (!(beta >= 0)) throw new ArgumentError('beta', `must be >= 0, got ${beta}`);
  const D = codebook.shape[1];
  if (codebook.rank !== 2 || z.shape[z.shape.length - 1] !== D) {
    throw new ShapeError(`vectorQuantize: z [..., D] must end in the codebook's width, got z [${z.shape.join(', ')}] and codebook [${codebook.shape.join(', ')}]`);
  }
  const tokens = ops.vqNearest(z.value as Tensor<FloatDType>, codebook as Tensor<FloatDType>);
  const q = ops.codebookLookup(tokens, codebook as Tensor<FloatDType>);
  const quantized = record('vq_straight_through', q, [z], (g) => [g.reshape(z.shape)]);
  const n = z.value.size;
  const diff = ops.sub(z.value, q); // z - sg(q)
  const flat = diff.reshape([1, n]);
  const squares = ops.square(flat);
  flat.dispose();
  const total = ops.sum(squares);
  squares.dispose();
  const loss = ops.scale(total, beta / n);
  total.dispose();
  const commitment = record('vq_commitment', loss, [z], (g) => [ops.mul(diff, ops.scale(g, (2 * beta) / n))], [diff]);
  return { quantized, commitment, tokens };
}
