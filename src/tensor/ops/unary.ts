import unarySource from '../../../kernels/unary.wgsl';
import { ArgumentError, ShapeError } from '../../errors.js';
import { isFloat, type DType } from '../dtype.js';
import { f32 } from '../engine.js';
import { defineKernel } from '../kernel.js';
import { checkOperand, type Tensor } from '../tensor.js';

const UNARY = defineKernel('unary', unarySource);
const WG = 256;

/** Elementwise expressions; `alpha` and `beta` are runtime scalars (no recompile per value). */
const UNARY_OPS = {
  neg: '-x',
  abs: 'abs(x)',
  square: 'x * x',
  sqrt: 'sqrt(x)',
  rsqrt: 'inverseSqrt(x)',
  exp: 'exp(x)',
  log: 'log(x)',
  sigmoid: '1.0 / (1.0 + exp(-x))',
  swish: 'x / (1.0 + exp(-x))',
  tanh: 'tanh(clamp(x, V(-15.0), V(15.0)))',
  relu: 'max(x, V(0.0))',
  /** -1, 0 or 1 */
  sign: 'sign(x)',
  /** 1 where x > 0, else 0 (the derivative of relu) */
  positive: 'select(V(0.0), V(1.0), x > V(0.0))',
  /** alpha * x + beta */
  affine: 'alpha * x + beta',
  /** min(max(x, alpha), beta) */
  clamp: 'clamp(x, alpha, beta)',
  /** x ^ alpha (x >= 0) */
  pow: 'pow(x, alpha)',
} as const;
export type UnaryOp = keyof typeof UNARY_OPS;

/** out = OP(x) elementwise (float dtypes). */
export function unary<D extends DType>(op: UnaryOp, x: Tensor<D>, alpha = 0, beta = 0): Tensor<D> {
  if (!Object.prototype.hasOwnProperty.call(UNARY_OPS, op)) throw new ArgumentError('op', `unknown unary op ${String(op)}; use ${Object.keys(UNARY_OPS).join(', ')}`);
  checkOperand(op, 'x', x);
  for (const [name, v] of [['alpha', alpha], ['beta', beta]] as const) {
    if (typeof v !== 'number') throw new ArgumentError(`${op}: ${name}`, `must be a number, got ${typeof v}`);
  }
  if (!isFloat(x.dtype)) throw new ShapeError(`${op}: needs a float tensor, got ${x.dtype}`);
  const engine = x.engine;
  const out = engine.empty(x.shape, x.dtype);
  if (out.size === 0) return out;
  const vec4 = x.size % 4 === 0 && x.dtype === 'f32';
  const n = vec4 ? x.size / 4 : x.size;
  engine.run({
    kernel: UNARY,
    defines: { T: x.dtype, OP: UNARY_OPS[op], WG, VEC4: vec4 },
    params: [n, f32(alpha), f32(beta)],
    inputs: [x],
    outputs: [out],
    workgroups: engine.grid(Math.ceil(n / WG)),
  });
  return out;
}

export const abs = <D extends DType>(x: Tensor<D>) => unary('abs', x);
export const neg = <D extends DType>(x: Tensor<D>) => unary('neg', x);
export const exp = <D extends DType>(x: Tensor<D>) => unary('exp', x);
export const log = <D extends DType>(x: Tensor<D>) => unary('log', x);
export const sqrt = <D extends DType>(x: Tensor<D>) => unary('sqrt', x);
export const square = <D extends DType>(x: Tensor<D>) => unary('square', x);
export const sigmoid = <D extends DType>(x: Tensor<D>) => unary('sigmoid', x);
export const swish = <D extends DType>(x: Tensor<D>) => unary('swish', x);
export const tanh = <D extends DType>(x: Tensor<D>) => unary('tanh', x);
export const relu = <D extends DType>(x: Tensor<D>) => unary('relu', x);
export const sign = <D extends DType>(x: Tensor<D>) => unary('sign', x);
/** 1 where x > 0, else 0. */
export const positive = <D extends DType>(x: Tensor<D>) => unary('positive', x);
/** scale * x */
export const scale = <D extends DType>(x: Tensor<D>, factor: number) => unary('affine', x, factor, 0);
/** scale * x + shift */
export const affine = <D extends DType>(x: Tensor<D>, factor: number, shift: number) => unary('affine', x, factor, shift);
export const clamp = <D extends DType>(x: Tensor<D>, lo: number, hi: number) => unary('clamp', x, lo, hi);
export const pow = <D extends DType>(x: Tensor<D>, exponent: number) => unary('pow', x, exponent);
