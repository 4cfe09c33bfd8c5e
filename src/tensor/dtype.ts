import { ShapeError } from '../errors.js';

export type DType = 'f32' | 'f16' | 'i32' | 'u32';

export const DTYPES: readonly DType[] = ['f32', 'f16', 'i32', 'u32'];

/** Bytes per element. */
export function dtypeSize(dtype: DType): number {
  return dtype === 'f16' ? 2 : 4;
}

/** The typed array that `Tensor.read()` returns for each dtype (f16 is widened to f32). */
export type TypedArrayFor<D extends DType> = D extends 'i32'
  ? Int32Array
  : D extends 'u32'
    ? Uint32Array
    : Float32Array;

export type HostArray = Float32Array | Int32Array | Uint32Array | Uint16Array;

/** The WGSL storage type for a dtype. */
export function wgslType(dtype: DType): string {
  return dtype;
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'f32' || dtype === 'f16';
}

export function assertDType(value: string): DType {
  if ((DTYPES as readonly string[]).includes(value)) return value as DType;
  throw new ShapeError(`unknown dtype "${value}"; expected one of ${DTYPES.join(', ')}`);
}
