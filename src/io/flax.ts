import { Decoder, decode, type ExtensionCodecType } from '@msgpack/msgpack';
import { CheckpointError } from '../errors.js';

/**
 * Flax msgpack checkpoints (flax.serialization.msgpack_serialize): a msgpack map tree whose
 * arrays are extension type 1 with payload msgpack [shape, dtype name, raw little-endian C-order
 * bytes]; type 2 is a Python complex (rejected: no weights are complex) and type 3 a numpy scalar
 * (same payload, shape []). Arrays over 2^30 bytes are written as {__msgpack_chunked_array__:
 * true, shape: {"0": d0, ...}, chunks: {"0": 1-D array, ...}}. The reader keeps every array's
 * bytes as a view into the file (chunked arrays, being split, are joined into one copy).
 */

/** numpy dtype names and their item sizes. */
const NUMPY_ITEM_SIZE: Readonly<Record<string, number>> = {
  bool: 1,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  float16: 2,
  bfloat16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  int64: 8,
  uint64: 8,
  float64: 8,
};

/** An n-d array from a checkpoint: shape, numpy dtype name and raw bytes (little-endian, C order). */
export class FlaxArray {
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly bytes: Uint8Array;

  constructor(shape: readonly number[], dtype: string, bytes: Uint8Array) {
    const itemSize = NUMPY_ITEM_SIZE[dtype];
    if (itemSize === undefined) {
      throw new CheckpointError(
        dtype.startsWith('complex')
          ? `complex arrays (${dtype}) are not supported in model checkpoints`
          : `unknown array dtype "${dtype}"; expected one of ${Object.keys(NUMPY_ITEM_SIZE).join(', ')}`,
      );
    }
    let size = 1;
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new CheckpointError(`array shape [${shape.join(', ')}] must hold non-negative integers`);
      size *= d;
    }
    if (!Number.isSafeInteger(size) || size * itemSize !== bytes.byteLength) {
      throw new CheckpointError(`a ${dtype} array of shape [${shape.join(', ')}] needs ${size * itemSize} bytes but holds ${bytes.byteLength}`);
    }
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.bytes = bytes;
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get itemSize(): number {
    return NUMPY_ITEM_SIZE[this.dtype]!;
  }

  /** A float32 array over `values` (its bytes, not a copy). */
  static fromFloat32(values: Float32Array, shape: readonly number[]): FlaxArray {
    return new FlaxArray(shape, 'float32', new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
}

export type FlaxValue = FlaxArray | FlaxTree | FlaxValue[] | string | number | bigint | boolean | null | Uint8Array;
export interface FlaxTree {
  [key: string]: FlaxValue;
}

export const EXT_NDARRAY = 1;
export const EXT_COMPLEX = 2;
export const EXT_NPSCALAR = 3;
const CHUNKED = '__msgpack_chunked_array__';

function decodeArrayPayload(payload: Uint8Array, what: string): FlaxArray {
  let parts: unknown;
  try {
    parts = decode(payload);
  } catch (cause) {
    throw new CheckpointError(`${what}: malformed payload (${(cause as Error).message})`, { cause });
  }
  if (!Array.isArray(parts) || parts.length !== 3) throw new CheckpointError(`${what}: the payload is not [shape, dtype, bytes]`);
  const [shape, dtype, bytes] = parts as [unknown, unknown, unknown];
  if (!Array.isArray(shape) || typeof dtype !== 'string' || !(bytes instanceof Uint8Array)) {
    throw new CheckpointError(`${what}: the payload is not [shape list, dtype name, bytes]`);
  }
  return new FlaxArray(shape as number[], dtype, bytes);
}

const flaxExtensions: ExtensionCodecType<undefined> = {
  tryToEncode: () => null,
  decode(data, type) {
    switch (type) {
      case EXT_NDARRAY:
        return decodeArrayPayload(data, 'ndarray (msgpack extension 1)');
      case EXT_NPSCALAR: {
        const scalar = decodeArrayPayload(data, 'numpy scalar (msgpack extension 3)');
        if (scalar.shape.length !== 0) throw new CheckpointError(`numpy scalar (msgpack extension 3) has shape [${scalar.shape.join(', ')}], expected []`);
        return scalar;
      }
      case EXT_COMPLEX:
        throw new CheckpointError('the checkpoint holds a complex number (msgpack extension 2), which no MaskGIT weight is');
      default:
        throw new CheckpointError(`unknown msgpack extension type ${type} (Flax writes 1 = ndarray, 2 = complex, 3 = numpy scalar)`);
    }
  },
};

function dictToList(value: unknown, what: string): unknown[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof FlaxArray) {
    throw new CheckpointError(`${what} is not a map of "0", "1", ...`);
  }
  const entries = value as Record<string, unknown>;
  const n = Object.keys(entries).length;
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    if (!(String(i) in entries)) throw new CheckpointError(`${what} lacks key "${i}" (keys must run 0..${n - 1})`);
    out.push(entries[String(i)]);
  }
  return out;
}

/** Joins a Flax chunked array: flat 1-D pieces, in order, of one dtype, reshaped. */
function unchunk(node: Record<string, unknown>, path: string): FlaxArray {
  const shape = dictToList(node.shape, `${path}: chunked array shape`);
  if (!shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new CheckpointError(`${path}: chunked array shape ${JSON.stringify(shape)} must hold non-negative integers`);
  }
  const chunks = dictToList(node.chunks, `${path}: chunked array chunks`);
  const extra = Object.keys(node).filter((k) => k !== CHUNKED && k !== 'shape' && k !== 'chunks');
  if (extra.length) throw new CheckpointError(`${path}: chunked array has unexpected keys ${extra.join(', ')}`);
  if (chunks.length === 0) throw new CheckpointError(`${path}: chunked array has no chunks`);
  let dtype = '';
  let bytes = 0;
  chunks.forEach((c, i) => {
    if (!(c instanceof FlaxArray) || c.shape.length !== 1) throw new CheckpointError(`${path}: chunk ${i} is not a 1-D array`);
    if (dtype && c.dtype !== dtype) throw new CheckpointError(`${path}: chunk ${i} is ${c.dtype}, chunk 0 is ${dtype}`);
    dtype = c.dtype;
    bytes += c.bytes.byteLength;
  });
  const joined = new Uint8Array(bytes);
  let at = 0;
  for (const c of chunks as FlaxArray[]) {
    joined.set(c.bytes, at);
    at += c.bytes.byteLength;
  }
  try {
    return new FlaxArray(shape as number[], dtype, joined);
  } catch (error) {
    throw new CheckpointError(`${path}: chunks do not fill the shape: ${(error as Error).message}`, { cause: error });
  }
}

function restoreChunked(value: unknown, path: string, depth: number): FlaxValue {
  if (depth > 64) throw new CheckpointError(`${path}: the tree is nested more than 64 levels deep`);
  if (value instanceof FlaxArray || value === null || typeof value !== 'object' || value instanceof Uint8Array) return value as FlaxValue;
  if (Array.isArray(value)) return value.map((v, i) => restoreChunked(v, `${path}/${i}`, depth + 1));
  const node = value as Record<string, unknown>;
  if (CHUNKED in node) return unchunk(node, path || '(root)');
  const out: FlaxTree = {};
  for (const [k, v] of Object.entries(node)) out[k] = restoreChunked(v, path ? `${path}/${k}` : k, depth + 1);
  return out;
}

/**
 * Decodes a Flax msgpack checkpoint held in memory. Array bytes are views into `bytes` (no
 * copies), so keep `bytes` alive while the arrays are used.
 */
export function decodeFlaxCheckpoint(bytes: Uint8Array, source = 'checkpoint'): FlaxTree {
  const decoder = new Decoder({ extensionCodec: flaxExtensions, maxArrayLength: bytes.byteLength, maxMapLength: bytes.byteLength });
  let value: unknown;
  try {
    value = decoder.decode(bytes);
  } catch (error) {
    if (error instanceof CheckpointError) throw new CheckpointError(`${source}: ${error.message}`, { cause: error });
    const message = (error as Error).message ?? String(error);
    const truncated = error instanceof RangeError && /insufficient data|outside the bounds/i.test(message);
    throw new CheckpointError(
      truncated
        ? `${source}: truncated Flax checkpoint (the msgpack data ends early); download it again`
        : `${source}: not a valid Flax msgpack checkpoint (${message})`,
      { cause: error },
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof FlaxArray || value instanceof Uint8Array) {
    throw new CheckpointError(`${source}: a Flax checkpoint is a msgpack map at the top, found ${Array.isArray(value) ? 'a list' : typeof value}`);
  }
  try {
    return restoreChunked(value, '', 0) as FlaxTree;
  } catch (error) {
    if (error instanceof CheckpointError) throw new CheckpointError(`${source}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** The tree's arrays by slash-joined path ("Embed_0/word_embeddings/embedding"); other leaves too. */
export function flattenFlaxTree(tree: FlaxTree): Map<string, FlaxValue> {
  const out = new Map<string, FlaxValue>();
  const walk = (node: FlaxTree, prefix: string) => {
    for (const [k, v] of Object.entries(node)) {
      const path = prefix ? `${prefix}/${k}` : k;
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof FlaxArray) && !(v instanceof Uint8Array)) walk(v, path);
      else out.set(path, v);
    }
  };
  walk(tree, '');
  return out;
}

// ------------------------------------------------------------------------------------ writer

const utf8 = new TextEncoder();

/** Pieces of msgpack output: small headers are bytes of their own, array payloads are views. */
class PieceList {
  readonly pieces: Uint8Array[] = [];
  private small: number[] = [];

  byte(...values: number[]): void {
    this.small.push(...values);
  }

  uint(value: number, bytes: 1 | 2 | 4): void {
    for (let i = bytes - 1; i >= 0; i--) this.small.push(Math.floor(value / 2 ** (8 * i)) & 0xff);
  }

  raw(bytes: Uint8Array): void {
    this.flushSmall();
    if (bytes.byteLength > 0) this.pieces.push(bytes);
  }

  flushSmall(): void {
    if (this.small.length) this.pieces.push(Uint8Array.from(this.small));
    this.small = [];
  }
}

function writeHeader(out: PieceList, n: number, fix: number, fixMax: number, c16: number, c32: number, c8?: number): void {
  if (n <= fixMax) out.byte(fix | n);
  else if (c8 !== undefined && n <= 0xff) out.byte(c8, n);
  else if (n <= 0xffff) {
    out.byte(c16);
    out.uint(n, 2);
  } else if (n <= 0xffffffff) {
    out.byte(c32);
    out.uint(n, 4);
  } else throw new CheckpointError(`msgpack cannot hold ${n} items in one object`);
}

function writeString(out: PieceList, s: string): void {
  const bytes = utf8.encode(s);
  writeHeader(out, bytes.byteLength, 0xa0, 31, 0xda, 0xdb, 0xd9);
  out.byte(...bytes);
}

/** The smallest msgpack integer encoding, as msgpack encoders choose; float64 otherwise. */
function writeNumber(out: PieceList, v: number): void {
  const b = new DataView(new ArrayBuffer(9));
  let size: number;
  if (Number.isSafeInteger(v) && v >= 0) {
    if (v < 128) return out.byte(v);
    if (v <= 0xff) return out.byte(0xcc, v);
    if (v <= 0xffff) [size] = [3, b.setUint8(0, 0xcd), b.setUint16(1, v)];
    else if (v <= 0xffffffff) [size] = [5, b.setUint8(0, 0xce), b.setUint32(1, v)];
    else [size] = [9, b.setUint8(0, 0xcf), b.setBigUint64(1, BigInt(v))];
  } else if (Number.isSafeInteger(v)) {
    if (v >= -32) return out.byte(v & 0xff);
    if (v >= -0x80) return out.byte(0xd0, v & 0xff);
    if (v >= -0x8000) [size] = [3, b.setUint8(0, 0xd1), b.setInt16(1, v)];
    else if (v >= -0x80000000) [size] = [5, b.setUint8(0, 0xd2), b.setInt32(1, v)];
    else [size] = [9, b.setUint8(0, 0xd3), b.setBigInt64(1, BigInt(v))];
  } else [size] = [9, b.setUint8(0, 0xcb), b.setFloat64(1, v)];
  out.byte(...new Uint8Array(b.buffer, 0, size));
}

/** [shape, dtype, bytes] as msgpack, as the payload of extension 1. */
function writeArrayExt(out: PieceList, a: FlaxArray, ext: number): void {
  const head = new PieceList();
  head.byte(0x93);
  writeHeader(head, a.shape.length, 0x90, 15, 0xdc, 0xdd);
  for (const d of a.shape) writeNumber(head, d);
  writeString(head, a.dtype);
  const n = a.bytes.byteLength;
  if (n <= 0xff) head.byte(0xc4, n);
  else if (n <= 0xffff) {
    head.byte(0xc5);
    head.uint(n, 2);
  } else {
    head.byte(0xc6);
    head.uint(n, 4);
  }
  head.flushSmall();
  const headBytes = head.pieces[0]!;
  const size = headBytes.byteLength + n;
  const fixext: Record<number, number> = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 };
  if (fixext[size] !== undefined) out.byte(fixext[size]!);
  else if (size <= 0xff) out.byte(0xc7, size);
  else if (size <= 0xffff) {
    out.byte(0xc8);
    out.uint(size, 2);
  } else if (size <= 0xffffffff) {
    out.byte(0xc9);
    out.uint(size, 4);
  } else throw new CheckpointError(`array of ${n} bytes is too large for one msgpack extension; it should have been chunked`);
  out.byte(ext);
  out.byte(...headBytes);
  out.raw(a.bytes);
}

function writeValue(out: PieceList, value: FlaxValue, maxChunkBytes: number): void {
  if (value instanceof FlaxArray) {
    if (value.bytes.byteLength > maxChunkBytes && value.shape.length > 0) {
      // Flax's chunking: flat pieces of floor(limit / itemsize) elements.
      const per = Math.max(1, Math.floor(maxChunkBytes / value.itemSize));
      const chunks: FlaxTree = {};
      for (let i = 0, k = 0; i < value.size; i += per, k++) {
        const n = Math.min(per, value.size - i);
        chunks[String(k)] = new FlaxArray([n], value.dtype, value.bytes.subarray(i * value.itemSize, (i + n) * value.itemSize));
      }
      const shape: FlaxTree = {};
      value.shape.forEach((d, i) => (shape[String(i)] = d));
      writeValue(out, { [CHUNKED]: true, shape, chunks }, maxChunkBytes);
    } else writeArrayExt(out, value, value.shape.length === 0 ? EXT_NPSCALAR : EXT_NDARRAY);
  } else if (value instanceof Uint8Array) {
    writeHeader(out, value.byteLength, 0, -1, 0xc5, 0xc6, 0xc4);
    out.raw(value);
  } else if (Array.isArray(value)) {
    writeHeader(out, value.length, 0x90, 15, 0xdc, 0xdd);
    for (const v of value) writeValue(out, v, maxChunkBytes);
  } else if (value === null) out.byte(0xc0);
  else if (typeof value === 'boolean') out.byte(value ? 0xc3 : 0xc2);
  else if (typeof value === 'string') writeString(out, value);
  else if (typeof value === 'number') writeNumber(out, value);
  else if (typeof value === 'bigint') {
    const b = new Uint8Array(9);
    b[0] = value < 0n ? 0xd3 : 0xcf;
    if (value < 0n) new DataView(b.buffer).setBigInt64(1, value);
    else new DataView(b.buffer).setBigUint64(1, value);
    out.byte(...b);
  } else {
    const entries = Object.entries(value);
    writeHeader(out, entries.length, 0x80, 15, 0xde, 0xdf);
    for (const [k, v] of entries) {
      writeString(out, k);
      writeValue(out, v, maxChunkBytes);
    }
  }
}

export interface FlaxWriteOptions {
  /** Arrays larger than this many bytes are chunked as Flax does (default 2^30, Flax's MAX_CHUNK_SIZE). */
  maxChunkBytes?: number;
}

/**
 * Encodes a tree as Flax's msgpack_serialize does, as a list of pieces to write in order
 * (array bytes are not copied). Numpy scalars are FlaxArrays of shape [].
 */
export function encodeFlaxCheckpoint(tree: FlaxTree, options: FlaxWriteOptions = {}): Uint8Array[] {
  const out = new PieceList();
  writeValue(out, tree, options.maxChunkBytes ?? 2 ** 30);
  out.flushSmall();
  return out.pieces;
}

/** The pieces joined (for small trees and tests). */
export function concatPieces(pieces: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
