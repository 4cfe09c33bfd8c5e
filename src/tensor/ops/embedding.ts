import embeddingSource from '../../../kernels/embedding.wgsl';
import { ShapeError } from '../../errors.js';
import { defineKernel } from '../kernel.js';
import type { Tensor } from '../tensor.js';

const EMBEDDING = defineKernel('embedding', embeddingSource);
const WG = 64;

/**
 * Token plus position embedding: out[b, l] = word[tokens[b, l]] + position[l], for tokens
 * i32 [B, L], word [vocab, H], position [P >= L, H] -> [B, L, H] in word's dtype.
 * Out-of-range ids never read out of bounds: a negative id counts from the end once (-1 is
 * the last row, the mask token, as in the official code's indexing), then ids are clamped
 * into [0, vocab - 1]. Callers that must reject bad ids check them on the host.
 */
export function embedding(tokens: Tensor, word: Tensor, position: Tensor): Tensor {
  const engine = tokens.engine;
  if (tokens.dtype !== 'i32' || tokens.rank !== 2) {
    throw new ShapeError(`embedding: tokens must be i32 [batch, length], got ${tokens.dtype} [${tokens.shape.join(', ')}]`);
  }
  if (word.rank !== 2 || position.rank !== 2 || word.shape[1] !== position.shape[1]) {
    throw new ShapeError(
      `embedding: word [vocab, H] and position [positions, H] must share H; got [${word.shape.join(', ')}] and [${position.shape.join(', ')}]`,
    );
  }
  if (word.dtype !== position.dtype || (word.dtype !== 'f32' && word.dtype !== 'f16')) {
    throw new ShapeError(`embedding: word (${word.dtype}) and position (${position.dtype}) must share one float dtype`);
  }
  const [batch, length] = tokens.shape as [number, number];
  const [vocab, hidden] = word.shape as [number, number];
  if (length > position.shape[0]!) {
    throw new ShapeError(`embedding: sequence length ${length} exceeds the ${position.shape[0]} learned positions`);
  }
  if (vocab === 0 && tokens.size > 0) throw new ShapeError('embedding: the word table is empty');
  const out = engine.empty([batch, length, hidden], word.dtype);
  if (out.size === 0) return out;
  const v4 = hidden % 4 === 0;
  const cols = v4 ? hidden / 4 : hidden;
  engine.run({
    kernel: EMBEDDING,
    defines: { T: word.dtype, V4: v4, WG },
    params: [length, cols, vocab],
    inputs: [tokens, word, position],
    outputs: [out],
    workgroups: [Math.ceil(cols / WG), length, batch],
  });
  return out;
}
