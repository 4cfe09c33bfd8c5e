import { f16BitsToF32, f32ToF16Bits } from '../tensor/half.js';

/**
 * Little-endian byte conversions between float formats, for model files. Inputs may be views at
 * any byte offset (msgpack payloads are not aligned); outputs are fresh, aligned arrays' bytes.
 */

function asBytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** A typed view when the bytes are aligned for it, else an aligned copy. */
function aligned<T>(bytes: Uint8Array, size: number, make: (buffer: ArrayBuffer, offset: number, length: number) => T): T {
  const length = bytes.byteLength / size;
  if (bytes.byteOffset % size === 0) return make(bytes.buffer as ArrayBuffer, bytes.byteOffset, length);
  return make(bytes.slice().buffer, 0, length);
}

export function f32View(bytes: Uint8Array): Float32Array {
  return aligned(bytes, 4, (b, o, n) => new Float32Array(b, o, n));
}

export function u16View(bytes: Uint8Array): Uint16Array {
  return aligned(bytes, 2, (b, o, n) => new Uint16Array(b, o, n));
}

/** f32 -> f16 (round to nearest even), bytes to bytes. */
export function f32BytesToF16(bytes: Uint8Array): Uint8Array {
  const src = f32View(bytes);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(src[i]!);
  return asBytes(out);
}

export function f16BytesToF32(bytes: Uint8Array): Uint8Array {
  const src = u16View(bytes);
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f16BitsToF32(src[i]!);
  return asBytes(out);
}

/** bfloat16 is the top half of an f32: widening is exact. */
export function bf16BytesToF32(bytes: Uint8Array): Uint8Array {
  const src = u16View(bytes);
  const out = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! << 16;
  return asBytes(out);
}

/** f64 -> f32, rounding to nearest. */
export function f64BytesToF32(bytes: Uint8Array): Uint8Array {
  const src = aligned(bytes, 8, (b, o, n) => new Float64Array(b, o, n));
  return asBytes(Float32Array.from(src));
}
