import binarySource from '../../../kernels/binary.wgsl';
import castSource from '../../../kernels/cast.wgsl';
import { ArgumentError, ShapeError } from '../../errors.js';
import { assertDType, type DType } from '../dtype.js';
import { defineKernel } from '../kernel.js';
import { broadcastShapes, broadcastStrides } from '../shape.js';
import { checkOperand, type Tensor } from '../tensor.js';

const BINARY = defineKernel('binary', binarySource);
const CAST = defineKernel('cast', castSource);
const WG = 256;
const MAX_RANK = 8;

const BINARY_OPS = {
  add: 'x + y',
  sub: 'x - y',
  mul: 'x * y',
  div: 'x / y',
  maximum: 'max(x, y)',
  minimum: 'min(x, y)',
  /** The gradient of swish at x times y: y * s(x) * (1 + x * (1 - s(x))). */
  swishGrad: 'y / (1.0 + exp(-x)) * (1.0 + x - x / (1.0 + exp(-x)))',
} as const;
export type BinaryOp = keyof typeof BINARY_OPS;

/** out = a OP b with numpy broadcasting; both operands have the same dtype. */
export function binary<D extends DType>(op: BinaryOp, a: Tensor<D>, b: Tensor<D>): Tensor<D> {
  if (!Object.prototype.hasOwnProperty.call(BINARY_OPS, op)) throw new ArgumentError('op', `unknown binary op ${String(op)}; use ${Object.keys(BINARY_OPS).join(', ')}`);
  checkOperand(op, 'a', a);
  const engine = a.engine;
  checkOperand(op, 'b', b, engine);
  if (a.dtype !== b.dtype) throw new ShapeError(`${op}: dtypes differ (${a.dtype} and ${b.dtype}); cast one first`);
  const shape = broadcastShapes(a.shape, b.shape, op);
  if (shape.length > MAX_RANK) throw new ShapeError(`${op}: rank ${shape.length} > ${MAX_RANK}`);
  const out = engine.empty(shape, a.dtype);
  if (out.size === 0) return out;
  const sa = broadcastStrides(a.shape, shape);
  const sb = broadcastStrides(b.shape, shape);
  const box = collapse(shape, sa, sb);
  const maxGrid = engine.device.limits.maxComputeWorkgroupsPerDimension;
  const pad = (v: number[]): number[] => [...v, ...new Array<number>(MAX_RANK - v.length).fill(1)];
  const general = pad(shape).concat(pad(sa), pad(sb));
  if (box && box.dims[0]! <= maxGrid && box.dims[1]! <= maxGrid) {
    // Four elements per invocation when the inner dimension is contiguous in both operands.
    const vec4 = a.dtype !== 'f16' && box.dims[2]! % 4 === 0 && box.sa[2] === 1 && box.sb[2] === 1;
    const v = vec4 ? 4 : 1;
    const [d0, d1, d2] = [box.dims[0]!, box.dims[1]!, box.dims[2]! / v];
    const [sa0, sa1] = [box.sa[0]! / v, box.sa[1]! / v];
    const [sb0, sb1] = [box.sb[0]! / v, box.sb[1]! / v];
    if (Number.isInteger(sa0 + sa1 + sb0 + sb1)) {
      engine.run({
        kernel: BINARY,
        defines: { T: a.dtype, OP: BINARY_OPS[op], WG, VEC4: vec4, GENERAL: false, RANK: 0 },
        params: [d0, d1, d2, 0, sa0, sa1, box.sa[2]!, 0, sb0, sb1, box.sb[2]!, 0, ...general],
        inputs: [a, b],
        outputs: [out],
        workgroups: [Math.ceil(d2 / WG), d1, d0],
      });
      return out;
    }
  }
  engine.run({
    kernel: BINARY,
    defines: { T: a.dtype, OP: BINARY_OPS[op], WG, VEC4: false, GENERAL: true, RANK: shape.length },
    params: [0, 0, 0, out.size, 0, 0, 0, 0, 0, 0, 0, 0, ...general],
    inputs: [a, b],
    outputs: [out],
    workgroups: engine.grid(Math.ceil(out.size / WG)),
  });
  return out;
}

/**
 * Merges adjacent axes along which both operands are laid out alike, then returns the
 * result as a 3-D box [D0, D1, D2] (null when more than three axes remain).
 */
function collapse(shape: number[], sa: number[], sb: number[]): { dims: number[]; sa: number[]; sb: number[] } | null {
  const dims: number[] = [];
  const ca: number[] = [];
  const cb: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && ca[last] === sa[i]! * d && cb[last] === sb[i]! * d) {
      dims[last]! *= d;
      ca[last] = sa[i]!;
      cb[last] = sb[i]!;
    } else {
      dims.push(d);
      ca.push(sa[i]!);
      cb.push(sb[i]!);
    }
  }
  if (dims.length > 3) return null;
  while (dims.length < 3) {
    dims.unshift(1);
    ca.unshift(0);
    cb.unshift(0);
  }
  return { dims, sa: ca, sb: cb };
}

export const add = <D extends DType>(a: Tensor<D>, b: Tensor<D>): Tensor<D> => binary('add', a, b);
export const sub = <D extends DType>(a: Tensor<D>, b: Tensor<D>): Tensor<D> => binary('sub', a, b);
export const mul = <D extends DType>(a: Tensor<D>, b: Tensor<D>): Tensor<D> => binary('mul', a, b);
export const div = <D extends DType>(a: Tensor<D>, b: Tensor<D>): Tensor<D> => binary('div', a, b);
export const maximum = <D extends DType>(a: Tensor<D>, b: Tensor<D>): Tensor<D> => binary('maximum', a, b);
export const minimum = <D extends DType>(a: Tensor<D>, b: Tensor<D>): Tensor<D> => binary('minimum', a, b);
/** dy * swish'(x): the backward of swish. */
export const swishGrad = <D extends DType>(x: Tensor<D>, dy: Tensor<D>): Tensor<D> => binary('swishGrad', x, dy);

/** Converts to another dtype (float -> int truncates toward zero and saturates). */
export function cast<D extends DType>(a: Tensor, dtype: D): Tensor<D> {
  checkOperand('cast', 'a', a);
  assertDType(dtype);
  const engine = a.engine;
  const out = engine.empty(a.shape, dtype);
  if (out.size === 0) return out;
  engine.run({
    kernel: CAST,
    defines: { FROM: a.dtype, TO: dtype, WG },
    params: [a.size],
    inputs: [a],
    outputs: [out],
    workgroups: engine.grid(Math.ceil(a.size / WG)),
  });
  return out;
}
