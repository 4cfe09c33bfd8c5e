import { expect } from 'vitest';
import { backward, parameter, type Engine, type Tensor, type Variable } from '../../src/node.js';

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
