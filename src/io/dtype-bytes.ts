import { f16BitsToF32, f32ToF16Bits } from '../tensor/half.js';

/**
 * Little-endian byte conversions between float formats, for model files. Inputs may be views at
 * any byte offset (msgpack payloads are not aligned). Outputs go to `out` when given (4-byte
 * aligned, large enough: a reused buffer saves touching fresh memory per tensor), else to a
 * fresh array; the result is a view of exactly the converted bytes.
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

function output<T>(out: Uint8Array | undefined, length: number, size: number, make: (buffer: ArrayBuffer, offset: number, length: number) => T): T {
  if (!out) return make(new ArrayBuffer(length * size), 0, length);
  if (out.byteOffset % 4 !== 0 || out.byteLength < length * size) throw new RangeError('conversion output buffer is too small or misaligned');
  return make(out.buffer as ArrayBuffer, out.byteOffset, length);
}

/** f32 -> f16 (round to nearest even), bytes to bytes. */
export function f32BytesToF16(bytes: Uint8Array, out?: Uint8Array): Uint8Array {
  const src = f32View(bytes);
  const dst = output(out, src.length, 2, (b, o, n) => new Uint16Array(b, o, n));
  for (let i = 0; i < src.length; i++) dst[i] = f32ToF16Bits(src[i]!);
  return asBytes(dst);
}

export function f16BytesToF32(bytes: Uint8Array, out?: Uint8Array): Uint8Array {
  const src = u16View(bytes);
  const dst = output(out, src.length, 4, (b, o, n) => new Float32Array(b, o, n));
  for (let i = 0; i < src.length; i++) dst[i] = f16BitsToF32(src[i]!);
  return asBytes(dst);
}

/** bfloat16 is the top half of an f32: widening is exact. */
export function bf16BytesToF32(bytes: Uint8Array, out?: Uint8Array): Uint8Array {
  const src = u16View(bytes);
  const dst = output(out, src.length, 4, (b, o, n) => new Uint32Array(b, o, n));
  for (let i = 0; i < src.length; i++) dst[i] = src[i]! << 16;
  return asBytes(dst);
}

/** f64 -> f32, rounding to nearest. */
export function f64BytesToF32(bytes: Uint8Array, out?: Uint8Array): Uint8Array {
  const src = aligned(bytes, 8, (b, o, n) => new Float64Array(b, o, n));
  const dst = output(out, src.length, 4, (b, o, n) => new Float32Array(b, o, n));
  dst.set(src);
  return asBytes(dst);
}

/** Two growable host buffers reused across tensors (for conversions whose result is copied at once). */
export class ScratchBuffers {
  private readonly buffers = [new Uint8Array(0), new Uint8Array(0)];

  get(slot: 0 | 1, bytes: number): Uint8Array {
    if (this.buffers[slot]!.byteLength < bytes) this.buffers[slot] = new Uint8Array(Math.ceil(bytes / 4) * 4);
    return this.buffers[slot]!.subarray(0, bytes);
  }
}
