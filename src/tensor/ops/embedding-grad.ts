import embeddingGradSource from '../../../kernels/embedding_grad.wgsl';
import { ShapeError } from '../../errors.js';
import { defineKernel } from '../kernel.js';
import type { Tensor } from '../tensor.js';

const EMBEDDING_GRAD = defineKernel('embedding_grad', embeddingGradSource);
const WG = 64;
/** At most this many chunks of positions (bounds the counts table at vocab x 256). */
const MAX_CHUNKS = 256;

/**
 * The gradient of a word table read by ops.embedding: dword[v] = sum of g[n] over the positions
 * n whose token maps to row v (ids mapped as the forward maps them), for tokens i32 [B, L] and
 * g [B, L, H] -> [vocab, H]; rows of ids that do not occur are 0. A stable counting sort of the
 * positions by id, then one sum per (row, column) in position order: deterministic, correct
 * with any number of repeated ids, and no float atomics (WGSL has none). f32.
 */
export function embeddingWordGrad(tokens: Tensor, g: Tensor, vocab: number): Tensor {
  const engine = tokens.engine;
  if (tokens.dtype !== 'i32' || tokens.rank !== 2) {
    throw new ShapeError(`embeddingWordGrad: tokens must be i32 [batch, length], got ${tokens.dtype} [${tokens.shape.join(', ')}]`);
  }
  const [batch, length] = tokens.shape as [number, number];
  if (g.dtype !== 'f32' || g.rank !== 3 || g.shape[0] !== batch || g.shape[1] !== length) {
    throw new ShapeError(`embeddingWordGrad: g must be f32 [${batch}, ${length}, hidden], got ${g.dtype} [${g.shape.join(', ')}]`);
  }
  if (!Number.isInteger(vocab) || vocab < 1) throw new ShapeError(`embeddingWordGrad: vocab must be a positive integer, got ${vocab}`);
  const hidden = g.shape[2]!;
  const n = batch * length;
  const dword = engine.empty([vocab, hidden]);
  if (n === 0 || hidden === 0) {
    engine.clear(dword);
    return dword;
  }
  const chunk = Math.max(32, Math.ceil(n / MAX_CHUNKS));
  const chunks = Math.ceil(n / chunk);
  const v4 = hidden % 4 === 0;
  const cols = v4 ? hidden / 4 : hidden;
  const params = [n, chunk, chunks, vocab, cols];
  const none = { IS_COUNT: false, IS_SCAN: false, IS_SCATTER: false, IS_SUM: false, V4: false, WG };
  engine.tidy(() => {
    const counts = engine.zeros([vocab * chunks], 'u32');
    const order = engine.empty([n], 'u32');
    engine.run({ kernel: EMBEDDING_GRAD, defines: { ...none, IS_COUNT: true }, params, inputs: [tokens], outputs: [counts], workgroups: [Math.ceil(chunks / WG)] });
    engine.run({ kernel: EMBEDDING_GRAD, defines: { ...none, IS_SCAN: true }, params, outputs: [counts], workgroups: [1] });
    engine.run({ kernel: EMBEDDING_GRAD, defines: { ...none, IS_SCATTER: true }, params, inputs: [tokens], outputs: [counts, order], workgroups: [Math.ceil(chunks / WG)] });
    engine.run({
      kernel: EMBEDDING_GRAD,
      defines: { ...none, IS_SUM: true, V4: v4 },
      params,
      inputs: [g, counts, order],
      outputs: [dword],
      workgroups: [Math.ceil(cols / WG), vocab],
    });
  });
  return dword;
}
