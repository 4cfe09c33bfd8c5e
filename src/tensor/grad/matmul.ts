// The differentiable matrix product (and with it linear layers and the tied output head).
import { ShapeError } from '../../errors.js';
import { record, type Variable } from '../autograd.js';
import { reshape } from './basic.js';
import * as ops from '../ops/index.js';
import type { Tensor } from '../tensor.js';

export interface MatmulGradOptions {
  /** a is [..., K, M]. */
  transposeA?: boolean;
  /** b is [..., N, K] (the tied output head: h @ word^T). */
  transposeB?: boolean;
  /** [N], added to every row (fused into the forward GEMM); its gradient is the column sums. */
  bias?: Variable;
}

/**
 * out = op(a) @ op(b) + bias with the gradients, each one GEMM with transposes:
 *   da = dout @ op(b)^T,  db = op(a)^T @ dout,  dbias = column sums of dout.
 * Batch dims broadcast as in ops.matmul. A weight b [K, N] shared by a batched a is applied to the
 * flattened batch ([B*M, K] @ [K, N]), so its gradient, the sum over the batch, is one GEMM too.
 */
export function matmul(a: Variable, b: Variable, options: MatmulGradOptions = {}): Variable {
  const tA = options.transposeA ?? false;
  const tB = options.transposeB ?? false;
  if (a.shape.length > 2 && b.shape.length === 2 && !tA) {
    // A weight shared by a batch: one GEMM over the batch's rows ([B*M, K] @ [K, N]) instead of
    // B small ones (on lavapipe 5x faster at [32 x 65, 256] @ [256, 1024]: no padded row blocks).
    const K = a.shape[a.shape.length - 1]!;
    const rows = reshape(a, [-1, K]);
    const out = matmul(rows, b, options);
    const N = out.shape[1]!;
    return reshape(out, [...a.shape.slice(0, -1), N]);
  }
  const bias = options.bias;
  const value = ops.matmul(a.value, b.value, { transposeA: tA, transposeB: tB, ...(bias ? { bias: bias.value } : {}) });
  const inputs = bias ? [a, b, bias] : [a, b];
  return record('matmul', value, inputs, (g) => {
    const av = a.value as Tensor;
    const bv = b.value as Tensor;
    let da: Tensor | null = null;
    if (a.requiresGrad) {
      da = tA ? ops.matmul(bv, g, { transposeA: tB, transposeB: true }) : ops.matmul(g, bv, { transposeB: !tB });
      da = ops.sumTo(da, a.shape);
    }
    let db: Tensor | null = null;
    if (b.requiresGrad) {
      db = tB ? ops.matmul(g, av, { transposeA: true, transposeB: tA }) : ops.matmul(av, g, { transposeA: !tA });
      db = ops.sumTo(db, b.shape);
    }
    const dbias = bias?.requiresGrad ? ops.sumTo(g, bias.shape) : null;
    return bias ? [da, db, dbias] : [da, db];
  });
}

/** y = x @ weight + bias for x [..., in], weight [in, out], bias [out] (nn.Linear's parameters). */
export function linear(x: Variable, weight: Variable, bias?: Variable): Variable {
  if (weight.shape.length !== 2 || x.shape[x.shape.length - 1] !== weight.shape[0]) {
    throw new ShapeError(`linear: x [${x.shape.join(', ')}] needs a weight [${x.shape[x.shape.length - 1]}, out], got [${weight.shape.join(', ')}]`);
  }
  return matmul(x, weight, bias ? { bias } : {});
}
