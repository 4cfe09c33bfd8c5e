// Differentiable versions of the elementwise and reduction ops.
import { record, type Variable } from '../autograd.js';
import type { DType } from '../dtype.js';
import * as ops from '../ops/index.js';
import type { Tensor } from '../tensor.js';

/** a + b with broadcasting. */
export function add<D extends DType>(a: Variable<D>, b: Variable<D>): Variable<D> {
  return record('add', ops.add(a.value, b.value), [a, b], (g) => [ops.sumTo(g, a.shape), ops.sumTo(g, b.shape)]);
}

/** a - b with broadcasting. */
export function sub<D extends DType>(a: Variable<D>, b: Variable<D>): Variable<D> {
  return record('sub', ops.sub(a.value, b.value), [a, b], (g) => [ops.sumTo(g, a.shape), ops.neg(ops.sumTo(g, b.shape))]);
}

/** a * b with broadcasting. */
export function mul<D extends DType>(a: Variable<D>, b: Variable<D>): Variable<D> {
  return record('mul', ops.mul(a.value, b.value), [a, b], (g) => [
    a.requiresGrad ? ops.sumTo(ops.mul(g, b.value as Tensor), a.shape) : null,
    b.requiresGrad ? ops.sumTo(ops.mul(g, a.value as Tensor), b.shape) : null,
  ]);
}

/** factor * a. */
export function scale<D extends DType>(a: Variable<D>, factor: number): Variable<D> {
  return record('scale', ops.scale(a.value, factor), [a], (g) => [ops.scale(g, factor)]);
}

/** Sum over the last axis. */
export function sum<D extends DType>(a: Variable<D>, options: { keepDims?: boolean } = {}): Variable<D> {
  return record('sum', ops.sum(a.value, options), [a], (g) => {
    // Broadcast the gradient back over the summed axis.
    const gk = g.reshape([...a.shape.slice(0, -1), 1]);
    return [ops.add(gk, a.value.engine.zeros(a.shape, g.dtype))];
  });
}

/** Same data, another shape. */
export function reshape<D extends DType>(a: Variable<D>, shape: readonly number[]): Variable<D> {
  return record('reshape', a.value.reshape(shape), [a], (g) => [g.reshape(a.shape)]);
}
