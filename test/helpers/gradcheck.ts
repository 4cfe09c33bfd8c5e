import type * as tfc from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { backward, constant, grad, parameter, type Engine, type Tensor, type Variable } from '../../src/node.js';
import { expectClose } from './compare.js';
import { oracle } from './oracle.js';

type Tf = typeof tfc;
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);


/**
 * Checks autograd against central finite differences: for a scalar loss f(params), compares
 * each parameter's gradient with (f(x + h e_i) - f(x - h e_i)) / 2h on `samples` coordinates.
 * f is evaluated in f32 on the GPU, so h and the tolerance must leave room for its rounding.
 */
export async function gradCheck(
  engine: Engine,
  values: Float32Array[],
  shapes: number[][],
  loss: (vars: Variable[]) => Variable,
  options: { h?: number; atol?: number; rtol?: number; samples?: number } = {},
): Promise<void> {
  const h = options.h ?? 1e-2;
  const evalLoss = async (vals: Float32Array[]) => {
    const vars = vals.map((v, i) => parameter(engine.tensor(v, shapes[i]!)));
    const out = loss(vars);
    const result = (await out.value.read())[0]!;
    out.value.dispose();
    for (const v of vars) v.value.dispose();
    return result;
  };
  const params = values.map((v, i) => parameter(engine.tensor(v, shapes[i]!)));
  const out = loss(params);
  backward(out);
  const grads: Float32Array[] = [];
  for (const p of params) grads.push(p.grad ? Float32Array.from(await (p.grad as Tensor).read()) : new Float32Array(p.value.size));
  for (const p of params) {
    p.value.dispose();
    p.zeroGrad();
  }
  for (let i = 0; i < values.length; i++) {
    const n = values[i]!.length;
    const picks = n <= (options.samples ?? 12) ? [...Array(n).keys()] : Array.from({ length: options.samples ?? 12 }, (_, k) => Math.floor((k * n) / (options.samples ?? 12)));
    for (const j of picks) {
      const plus = values.map((v) => Float32Array.from(v));
      const minus = values.map((v) => Float32Array.from(v));
      plus[i]![j]! += h;
      minus[i]![j]! -= h;
      const numeric = ((await evalLoss(plus)) - (await evalLoss(minus))) / (2 * h);
      const analytic = grads[i]![j]!;
      const tol = (options.atol ?? 2e-3) + (options.rtol ?? 2e-2) * Math.abs(numeric);
      expect(Math.abs(analytic - numeric), `param ${i} element ${j}: autograd ${analytic} vs finite difference ${numeric}`).toBeLessThanOrEqual(tol);
    }
  }
}

/** sum(y * r) as a scalar [1]: a loss whose gradient dy = r is dense and not constant. */
export function weightedSum(engine: Engine, y: Variable, r: Float32Array): Variable {
  const n = size(y.shape);
  return grad.sum(grad.reshape(grad.mul(y, constant(engine.tensor(r, y.shape))), [1, n]));
}

/** Gradients of `loss(vars)` by autograd, read back. */
export async function autogradOf(engine: Engine, values: Float32Array[], shapes: number[][], loss: (vars: Variable[]) => Variable): Promise<{ value: number; grads: Float32Array[] }> {
  const vars = values.map((v, i) => parameter(engine.tensor(v, shapes[i]!)));
  const out = loss(vars);
  const value = (await out.value.read())[0]!;
  backward(out);
  const grads: Float32Array[] = [];
  for (const v of vars) {
    grads.push(Float32Array.from(await v.grad!.read()));
    v.zeroGrad();
    v.value.dispose();
  }
  return { value, grads };
}

/** Compares autograd with tf.grads of the same function written in tfjs-core. */
export async function checkAgainstTf(
  engine: Engine,
  values: Float32Array[],
  shapes: number[][],
  ours: (vars: Variable[]) => Variable,
  theirs: (tf: Tf, ...xs: tfc.Tensor[]) => tfc.Scalar | tfc.Tensor,
  tol: { atol: number; rtol: number },
  what: string,
): Promise<void> {
  const tf = await oracle();
  const { value, grads } = await autogradOf(engine, values, shapes, ours);
  const inputs = values.map((v, i) => tf.tensor(v, shapes[i]!));
  const f = (...xs: tfc.Tensor[]) => tf.sum(theirs(tf, ...xs)) as tfc.Scalar;
  const expectedValue = f(...inputs).dataSync()[0]!;
  expect(Math.abs(value - expectedValue), `${what}: loss ${value} vs tfjs ${expectedValue}`).toBeLessThanOrEqual(tol.atol * 10 + tol.rtol * Math.abs(expectedValue));
  const expected = tf.grads(f)(inputs);
  expected.forEach((g, i) => expectClose(grads[i]!, g.dataSync(), tol, `${what}: gradient of input ${i}`));
  tf.dispose([...inputs, ...expected]);
}
