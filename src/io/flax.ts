import { CheckpointError } from '../errors.js';

/**
 * Flax msgpack checkpoints (flax.serialization.msgpack_serialize): a msgpack map tree whose
 * arrays are extension type 1 with payload msgpack [shape, dtype name, raw little-endian C-order
 * bytes]; type 2 is a Python complex (rejected: no weights are complex) and type 3 a numpy scalar
 * (same payload, shape []). Arrays over 2^30 bytes are written as {__msgpack_chunked_array__:
 * true, shape: {"0": d0, ...}, chunks: {"0": 1-D array, ...}}. The reader walks the msgpack
 * value by value over a ByteSource: arrays in memory are views into the file (chunked arrays,
 * being split, are joined into one copy); arrays of a file read lazily stay in the file until
 * used, so a checkpoint larger than memory can be converted one tensor at a time.
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

/**
 * Array bytes not read yet: the payload's length, and how to read it (from a file, on demand).
 * `load` returns fresh bytes each call, so nothing holds them once the caller is done.
 */
export interface LazyBytes {
  readonly byteLength: number;
  load(): Uint8Array;
}

/** An n-d array from a checkpoint: shape, numpy dtype name and raw bytes (little-endian, C order). */
export class FlaxArray {
  readonly shape: readonly number[];
  readonly dtype: string;
  private readonly data: Uint8Array | LazyBytes;

  constructor(shape: readonly number[], dtype: string, bytes: Uint8Array | LazyBytes) {
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
    this.data = bytes;
  }

  /** The raw bytes: a view for arrays in memory; read from the file at each access for lazy ones. */
  get bytes(): Uint8Array {
    if (this.data instanceof Uint8Array) return this.data;
    const bytes = this.data.load();
    if (bytes.byteLength !== this.data.byteLength) throw new CheckpointError(`an array's ${this.data.byteLength} bytes could not be read again (got ${bytes.byteLength}): the file changed while it was read`);
    return bytes;
  }

  /** The payload's length, without reading it. */
  get byteLength(): number {
    return this.data.byteLength;
  }

  /** Whether the bytes are read on demand (from a file) rather than held. */
  get lazy(): boolean {
    return !(this.data instanceof Uint8Array);
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
/** Flax trees are a few levels deep; deeper nesting is a damaged or hostile file. */
const MAX_DEPTH = 64;

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

/**
 * Joins a Flax chunked array: flat 1-D pieces, in order, of one dtype, reshaped. Pieces held in
 * memory are joined into one copy; pieces read from a file are joined when the array is read.
 */
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
    bytes += c.byteLength;
  });
  const pieces = chunks as FlaxArray[];
  const lazy = pieces.some((c) => c.lazy);
  const data: Uint8Array | LazyBytes = lazy
    ? { byteLength: bytes, load: () => concatPieces(pieces.map((c) => c.bytes)) }
    : concatPieces(pieces.map((c) => c.bytes));
  try {
    return new FlaxArray(shape as number[], dtype, data);
  } catch (error) {
    throw new CheckpointError(`${path}: chunks do not fill the shape: ${(error as Error).message}`, { cause: error });
  }
}

function restoreChunked(value: unknown, path: string): FlaxValue {
  if (value instanceof FlaxArray || value === null || typeof value !== 'object' || value instanceof Uint8Array) return value as FlaxValue;
  if (Array.isArray(value)) return value.map((v, i) => restoreChunked(v, `${path}/${i}`));
  const node = value as Record<string, unknown>;
  if (CHUNKED in node) return unchunk(node, path || '(root)');
  const out: FlaxTree = {};
  for (const [k, v] of Object.entries(node)) out[k] = restoreChunked(v, path ? `${path}/${k}` : k);
  return out;
}

// ------------------------------------------------------------------------------------ reader

/**
 * Where a checkpoint's bytes come from: a buffer in memory, a file on disk (Node), a File or
 * Blob (a browser worker). `read` returns `length` bytes at `offset` (inside `size`) that stay
 * valid after later reads: a view of immutable memory or a fresh copy.
 */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

/** Bytes held in memory: reads are views (no copies). */
export function memorySource(bytes: Uint8Array): ByteSource {
  return { size: bytes.byteLength, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

/** The bytes ran out before the msgpack value did. */
class Truncated extends Error {}

/** Bytes read from the source per refill when headers are parsed (payloads are skipped, not read). */
const WINDOW = 8 * 1024;
const utf8Decoder = new TextDecoder();

/**
 * A position in a ByteSource with a small read-ahead window for headers, and a limit (the end
 * of the extension being read): msgpack is read value by value, payloads skipped or viewed.
 */
class Cursor {
  pos = 0;
  limit: number;
  private window: Uint8Array = new Uint8Array(0);
  private windowStart = 0;

  constructor(
    readonly source: ByteSource,
    private readonly onPosition?: (position: number) => void,
  ) {
    this.limit = source.size;
  }

  /** The window offset of bytes [pos, pos + n), reading them in when needed; pos advances past them. */
  private take(n: number): number {
    if (this.pos + n > this.limit) {
      if (this.limit < this.source.size) throw new PayloadOverrun();
      throw new Truncated();
    }
    let at = this.pos - this.windowStart;
    if (at < 0 || at + n > this.window.byteLength) {
      this.onPosition?.(this.pos);
      this.window = this.source.read(this.pos, Math.min(this.source.size - this.pos, Math.max(n, WINDOW)));
      this.windowStart = this.pos;
      at = 0;
    }
    this.pos += n;
    return at;
  }

  /** Checks that n more bytes exist (before allocating or skipping anything for them). */
  ensure(n: number): void {
    if (this.pos + n > this.limit) {
      if (this.limit < this.source.size) throw new PayloadOverrun();
      throw new Truncated();
    }
  }

  u8(): number {
    const at = this.take(1); // before reading this.window: take() may replace it
    return this.window[at]!;
  }

  private view(n: number): DataView {
    const at = this.take(n);
    return new DataView(this.window.buffer, this.window.byteOffset + at, n);
  }

  uint(n: 1 | 2 | 4 | 8): number {
    const at = this.take(n);
    const w = this.window;
    if (n === 1) return w[at]!;
    if (n === 2) return (w[at]! << 8) | w[at + 1]!;
    const high = ((w[at]! << 24) | (w[at + 1]! << 16) | (w[at + 2]! << 8) | w[at + 3]!) >>> 0;
    if (n === 4) return high;
    return high * 2 ** 32 + (((w[at + 4]! << 24) | (w[at + 5]! << 16) | (w[at + 6]! << 8) | w[at + 7]!) >>> 0);
  }

  int(n: 1 | 2 | 4 | 8): number {
    const v = this.view(n);
    if (n === 1) return v.getInt8(0);
    if (n === 2) return v.getInt16(0);
    if (n === 4) return v.getInt32(0);
    return v.getInt32(0) * 2 ** 32 + v.getUint32(4);
  }

  float(n: 4 | 8): number {
    const v = this.view(n);
    return n === 4 ? v.getFloat32(0) : v.getFloat64(0);
  }

  /** n bytes as a view of the window (which the source keeps valid). */
  bytes(n: number): Uint8Array {
    this.ensure(n);
    const at = this.take(n);
    return this.window.subarray(at, at + n);
  }

  skip(n: number): void {
    this.ensure(n);
    this.pos += n;
  }
}

/** An extension's payload claims bytes past the extension's end. */
class PayloadOverrun extends Error {}

export interface FlaxReadOptions {
  /** Leave array payloads in the source and read them when the array is used (default false). */
  lazy?: boolean;
  /** Called as the reader moves through the source (with the byte position reached). */
  onPosition?: (position: number) => void;
}

/** Reads one msgpack value as a Flax tree node (arrays from extensions 1 and 3). */
class FlaxReader {
  constructor(
    private readonly at: Cursor,
    private readonly options: FlaxReadOptions,
  ) {}

  value(path: string, depth: number): unknown {
    const at = this.at;
    const b = at.u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xf0) === 0x80) return this.map(b & 0x0f, path, depth);
    if ((b & 0xf0) === 0x90) return this.list(b & 0x0f, path, depth);
    if ((b & 0xe0) === 0xa0) return this.str(b & 0x1f);
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
      case 0xc5:
      case 0xc6:
        return this.bin(at.uint(b === 0xc4 ? 1 : b === 0xc5 ? 2 : 4));
      case 0xc7:
      case 0xc8:
      case 0xc9:
        return this.ext(at.uint(b === 0xc7 ? 1 : b === 0xc8 ? 2 : 4), path, depth);
      case 0xca:
        return at.float(4);
      case 0xcb:
        return at.float(8);
      case 0xcc:
      case 0xcd:
      case 0xce:
      case 0xcf:
        return at.uint((1 << (b - 0xcc)) as 1 | 2 | 4 | 8);
      case 0xd0:
      case 0xd1:
      case 0xd2:
      case 0xd3:
        return at.int((1 << (b - 0xd0)) as 1 | 2 | 4 | 8);
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8:
        return this.ext(1 << (b - 0xd4), path, depth);
      case 0xd9:
      case 0xda:
      case 0xdb:
        return this.str(at.uint(b === 0xd9 ? 1 : b === 0xda ? 2 : 4));
      case 0xdc:
      case 0xdd:
        return this.list(at.uint(b === 0xdc ? 2 : 4), path, depth);
      case 0xde:
      case 0xdf:
        return this.map(at.uint(b === 0xde ? 2 : 4), path, depth);
      default:
        throw new CheckpointError(`not a valid Flax msgpack checkpoint (byte 0x${b.toString(16)} at offset ${at.pos - 1} starts no msgpack value)`);
    }
  }

  private nested(path: string, depth: number): void {
    if (depth >= MAX_DEPTH) throw new CheckpointError(`${path || '(root)'}: the tree is nested more than ${MAX_DEPTH} levels deep`);
  }

  private str(n: number): string {
    return utf8Decoder.decode(this.bin(n));
  }

  private bin(n: number): Uint8Array {
    return this.at.bytes(n);
  }

  private list(n: number, path: string, depth: number): unknown[] {
    this.nested(path, depth);
    this.at.ensure(n); // every item takes a byte at least: a huge count in a short file fails here
    const out: unknown[] = [];
    // Items share the list's path (messages name the list): no string built per item.
    for (let i = 0; i < n; i++) out.push(this.value(path, depth + 1));
    return out;
  }

  private map(n: number, path: string, depth: number): Record<string, unknown> {
    this.nested(path, depth);
    this.at.ensure(2 * n);
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const key = this.value(path, depth + 1);
      if (typeof key !== 'string' && typeof key !== 'number') {
        throw new CheckpointError(`not a valid Flax msgpack checkpoint (${path || 'the top-level map'} has a ${key === null ? 'nil' : typeof key} key; Flax writes string keys)`);
      }
      const name = String(key);
      if (name === '__proto__') throw new CheckpointError(`not a valid Flax msgpack checkpoint (${path || 'the top-level map'} has the key __proto__, which no Flax tree has)`);
      out[name] = this.value(path ? `${path}/${name}` : name, depth + 1);
    }
    return out;
  }

  private ext(length: number, path: string, depth: number): FlaxArray {
    const at = this.at;
    const type = at.int(1);
    at.ensure(length);
    switch (type) {
      case EXT_NDARRAY:
        return this.arrayPayload(length, 'ndarray (msgpack extension 1)', path, depth);
      case EXT_NPSCALAR: {
        const scalar = this.arrayPayload(length, 'numpy scalar (msgpack extension 3)', path, depth);
        if (scalar.shape.length !== 0) throw new CheckpointError(`numpy scalar (msgpack extension 3) has shape [${scalar.shape.join(', ')}], expected []`);
        return scalar;
      }
      case EXT_COMPLEX:
        throw new CheckpointError('the checkpoint holds a complex number (msgpack extension 2), which no MaskGIT weight is');
      default:
        throw new CheckpointError(`unknown msgpack extension type ${type} (Flax writes 1 = ndarray, 2 = complex, 3 = numpy scalar)${path ? ` at ${path}` : ''}`);
    }
  }

  /** The payload of an array extension: msgpack [shape, dtype name, bin bytes], exactly `length` bytes. */
  private arrayPayload(length: number, what: string, path: string, depth: number): FlaxArray {
    const at = this.at;
    const end = at.pos + length;
    const outer = at.limit;
    at.limit = end;
    let shape: unknown;
    let dtype: unknown;
    let bytes: unknown;
    try {
      const head = at.u8();
      const count = (head & 0xf0) === 0x90 ? head & 0x0f : head === 0xdc ? at.uint(2) : head === 0xdd ? at.uint(4) : -1;
      if (count !== 3) throw new CheckpointError(`${what}: the payload is not [shape, dtype, bytes]`);
      shape = this.value(`${path}/shape`, depth + 1);
      dtype = this.value(`${path}/dtype`, depth + 1);
      bytes = this.payloadBytes(`${path}/bytes`, depth + 1);
      if (at.pos !== end) throw new CheckpointError(`${what}: malformed payload (${end - at.pos} bytes follow [shape, dtype, bytes] in the extension)`);
    } catch (error) {
      if (error instanceof PayloadOverrun) throw new CheckpointError(`${what}: malformed payload (its values run past the extension's ${length} bytes)`, { cause: error });
      throw error;
    } finally {
      at.limit = outer;
    }
    if (!Array.isArray(shape) || typeof dtype !== 'string' || bytes === null) {
      throw new CheckpointError(`${what}: the payload is not [shape list, dtype name, bytes]`);
    }
    return new FlaxArray(shape as number[], dtype, bytes as Uint8Array | LazyBytes);
  }

  /** A bin value's bytes (a view, or lazy: left in the source); null when the value is no bin. */
  private payloadBytes(path: string, depth: number): Uint8Array | LazyBytes | null {
    const at = this.at;
    const head = at.u8();
    if (head !== 0xc4 && head !== 0xc5 && head !== 0xc6) {
      at.pos -= 1;
      this.value(path, depth);
      return null;
    }
    const n = at.uint(head === 0xc4 ? 1 : head === 0xc5 ? 2 : 4);
    if (!this.options.lazy) return at.bytes(n);
    const offset = at.pos;
    at.skip(n);
    const source = at.source;
    return { byteLength: n, load: () => source.read(offset, n) };
  }
}

/** What a msgpack value starting with byte `b` is, for messages. */
function msgpackKind(b: number): string {
  if ((b & 0xf0) === 0x90 || b === 0xdc || b === 0xdd) return 'a list';
  if ((b & 0xe0) === 0xa0 || (b >= 0xd9 && b <= 0xdb)) return 'a string';
  if (b <= 0x7f || b >= 0xe0 || (b >= 0xca && b <= 0xd3)) return 'a number';
  if (b >= 0xc4 && b <= 0xc6) return 'raw bytes';
  if ((b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8)) return 'an extension value';
  if (b === 0xc0) return 'nil';
  if (b === 0xc2 || b === 0xc3) return 'a boolean';
  return `byte 0x${b.toString(16)}, which starts no msgpack value`;
}

function notAMap(found: string): string {
  return `a Flax checkpoint is a msgpack map at the top, found ${found}: this is not a Flax checkpoint (the official ones are maskgit_imagenet256_checkpoint, tokenizer_imagenet256_checkpoint and their 512 px pair)`;
}

/** Reads a Flax msgpack checkpoint from any ByteSource; errors are CheckpointErrors naming `source`. */
export function readFlaxCheckpoint(bytes: ByteSource, source = 'checkpoint', options: FlaxReadOptions = {}): FlaxTree {
  if (bytes.size === 0) throw new CheckpointError(`${source} is empty`);
  const cursor = new Cursor(bytes, options.onPosition);
  let value: unknown;
  try {
    // Before anything else: a file of another kind fails here, not somewhere inside.
    const first = cursor.u8();
    cursor.pos = 0;
    if (!((first & 0xf0) === 0x80 || first === 0xde || first === 0xdf)) throw new CheckpointError(notAMap(msgpackKind(first)));
    value = new FlaxReader(cursor, options).value('', 0);
    if (cursor.pos < bytes.size) {
      throw new CheckpointError(`not a valid Flax msgpack checkpoint (Extra ${bytes.size - cursor.pos} of ${bytes.size} byte(s) found at byte ${cursor.pos}, after its msgpack data)`);
    }
    const tree = restoreChunked(value, '') as FlaxTree;
    options.onPosition?.(bytes.size);
    return tree;
  } catch (error) {
    if (error instanceof Truncated) throw new CheckpointError(`${source}: truncated Flax checkpoint (the msgpack data ends early); download it again`, { cause: error });
    if (error instanceof CheckpointError) throw new CheckpointError(`${source}: ${error.message}`, { cause: error });
    throw error;
  }
}

/**
 * Decodes a Flax msgpack checkpoint held in memory. Array bytes are views into `bytes` (no
 * copies), so keep `bytes` alive while the arrays are used.
 */
export function decodeFlaxCheckpoint(bytes: Uint8Array, source = 'checkpoint'): FlaxTree {
  return readFlaxCheckpoint(memorySource(bytes), source);
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
  const n = a.byteLength;
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
    if (value.byteLength > maxChunkBytes && value.shape.length > 0) {
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
