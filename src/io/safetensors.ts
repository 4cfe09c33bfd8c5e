import { CheckpointError } from '../errors.js';
import type { OpenedFile } from './remote.js';

/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of
 * JSON {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}},
 * then the data, with offsets relative to its start. Every byte of the data belongs to exactly
 * one tensor. Platform-neutral: header parsing and validation, in-memory encode/decode, and a
 * streaming reader over a ReadableStream (fetch bodies, Cache API responses).
 */

/** Header size bound, as in the reference implementation: a hostile length cannot make us allocate more. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element of each safetensors dtype this library understands. */
const DTYPE_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
} as const;

export type SafetensorsDType = keyof typeof DTYPE_BYTES;

export function safetensorsDTypeSize(dtype: SafetensorsDType): number {
  return DTYPE_BYTES[dtype];
}

export function isSafetensorsDType(value: unknown): value is SafetensorsDType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, value);
}

/** One tensor's header entry. `begin`/`end` are byte offsets into the data section. */
export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  /** In file order (ascending offsets). */
  readonly tensors: readonly SafetensorsTensorInfo[];
  readonly metadata: Readonly<Record<string, string>>;
  /** Where the data section starts in the file: 8 + the JSON header's length. */
  readonly dataOffset: number;
  /** Bytes of the data section (the file is dataOffset + dataLength bytes). */
  readonly dataLength: number;
}

/** Tensor bytes to write: `data` may be a function, called once when the writer reaches the tensor. */
export interface TensorBytes {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly data: Uint8Array | (() => Uint8Array);
}

/** A tensor read from a file: `bytes` is a view into the file's bytes when that is possible. */
export interface HostTensor {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

function where(source: string): string {
  return source ? `${source}: ` : '';
}

/** Element count of a shape, checked to be a safe integer. */
export function elementCount(shape: readonly number[], what: string): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new CheckpointError(`${what}: shape [${shape.join(', ')}] must hold non-negative integers`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new CheckpointError(`${what}: shape [${shape.join(', ')}] is too large`);
  return n;
}

/**
 * The JSON header's length from the first 8 bytes, checked against the size bound and (when
 * known) the file size, before anything is allocated for it.
 */
export function readHeaderLength(first8: Uint8Array, fileSize: number | undefined, source = ''): number {
  if (first8.byteLength < 8) {
    throw new CheckpointError(`${where(source)}truncated safetensors file: ${first8.byteLength} bytes, the 8-byte header length is missing`);
  }
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const length = Number(view.getBigUint64(0, true));
  if (length > SAFETENSORS_MAX_HEADER_BYTES) {
    throw new CheckpointError(
      `${where(source)}safetensors header of ${length} bytes exceeds the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit: the file is corrupt or not a safetensors file`,
    );
  }
  if (length < 2) throw new CheckpointError(`${where(source)}safetensors header of ${length} bytes is too short to hold JSON`);
  if (fileSize !== undefined && 8 + length > fileSize) {
    throw new CheckpointError(`${where(source)}truncated safetensors file: the header needs ${8 + length} bytes but the file has ${fileSize}`);
  }
  return length;
}

/**
 * Parses and validates the JSON header: known dtypes, shapes that agree with the byte ranges,
 * ranges that are ordered, contiguous and cover the data exactly (no gaps, no overlaps, nothing
 * outside). With `fileSize` unknown (a stream without a length) the data length is the end of
 * the last range and the reader checks the stream against it.
 */
export function parseSafetensorsHeader(json: Uint8Array, fileSize: number | undefined, source = ''): SafetensorsHeader {
  const at = where(source);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    throw new CheckpointError(`${at}safetensors header is not valid UTF-8: the file is corrupt or not a safetensors file`);
  }
  if (!text.startsWith('{')) throw new CheckpointError(`${at}safetensors header does not start with "{": the file is corrupt or not a safetensors file`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new CheckpointError(`${at}safetensors header is not valid JSON (${(cause as Error).message})`, { cause });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CheckpointError(`${at}safetensors header is not a JSON object`);
  const metadata: Record<string, string> = {};
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new CheckpointError(`${at}__metadata__ must be an object of strings`);
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new CheckpointError(`${at}__metadata__.${k} must be a string, got ${typeof v}`);
        metadata[k] = v;
      }
      continue;
    }
    tensors.push(parseEntry(name, entry, at));
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const t of tensors) {
    if (t.begin !== cursor) {
      throw new CheckpointError(
        t.begin < cursor
          ? `${at}tensor "${t.name}" bytes [${t.begin}, ${t.end}) overlap the previous tensor (which ends at ${cursor})`
          : `${at}tensor "${t.name}" starts at byte ${t.begin} but the previous tensor ends at ${cursor}: the data has a gap`,
      );
    }
    cursor = t.end;
  }
  const dataOffset = 8 + json.byteLength;
  if (fileSize !== undefined) {
    const available = fileSize - dataOffset;
    if (cursor > available) {
      throw new CheckpointError(`${at}truncated safetensors file: the tensors need ${cursor} data bytes but the file holds ${available}`);
    }
    if (cursor < available) {
      throw new CheckpointError(`${at}safetensors data has ${available - cursor} bytes after the last tensor that no tensor covers`);
    }
  }
  return { tensors, metadata, dataOffset, dataLength: cursor };
}

function parseEntry(name: string, entry: unknown, at: string): SafetensorsTensorInfo {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new CheckpointError(`${at}header entry "${name}" is not an object`);
  const { dtype, shape, data_offsets: offsets } = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (!isSafetensorsDType(dtype)) {
    throw new CheckpointError(`${at}tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}; known: ${Object.keys(DTYPE_BYTES).join(', ')}`);
  }
  if (!Array.isArray(shape)) throw new CheckpointError(`${at}tensor "${name}" has no shape list`);
  const count = elementCount(shape as number[], `${at}tensor "${name}"`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new CheckpointError(`${at}tensor "${name}" needs data_offsets [begin, end] of non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new CheckpointError(`${at}tensor "${name}" has data_offsets [${begin}, ${end}] with end before begin`);
  const bytes = count * DTYPE_BYTES[dtype];
  if (end - begin !== bytes) {
    throw new CheckpointError(
      `${at}tensor "${name}" ${dtype} [${(shape as number[]).join(', ')}] needs ${bytes} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`,
    );
  }
  // `+ 0` turns a JSON -0 into 0.
  return { name, dtype, shape: (shape as number[]).map((d) => d + 0), begin: begin + 0, end: end + 0 };
}

/** The header bytes (8-byte length + JSON padded with spaces to a multiple of 8) and each tensor's offsets. */
export function encodeSafetensorsHeader(
  tensors: readonly Omit<TensorBytes, 'data'>[],
  metadata: Readonly<Record<string, string>> = {},
): { bytes: Uint8Array; header: SafetensorsHeader } {
  const json: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) json.__metadata__ = metadata;
  const infos: SafetensorsTensorInfo[] = [];
  let cursor = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__') throw new CheckpointError('"__metadata__" is reserved and cannot name a tensor');
    if (seen.has(t.name)) throw new CheckpointError(`tensor "${t.name}" is listed twice`);
    seen.add(t.name);
    if (!isSafetensorsDType(t.dtype)) throw new CheckpointError(`tensor "${t.name}": unknown dtype ${String(t.dtype)}`);
    const end = cursor + elementCount(t.shape, `tensor "${t.name}"`) * DTYPE_BYTES[t.dtype];
    json[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [cursor, end] };
    infos.push({ name: t.name, dtype: t.dtype, shape: [...t.shape], begin: cursor, end });
    cursor = end;
  }
  const text = new TextEncoder().encode(JSON.stringify(json));
  const padded = Math.ceil((8 + text.byteLength) / 8) * 8 - 8;
  const bytes = new Uint8Array(8 + padded).fill(0x20);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(padded), true);
  bytes.set(text, 8);
  return { bytes, header: { tensors: infos, metadata: { ...metadata }, dataOffset: 8 + padded, dataLength: cursor } };
}

/** A tensor's bytes, checked against its dtype and shape. */
export function tensorData(t: TensorBytes): Uint8Array {
  const data = typeof t.data === 'function' ? t.data() : t.data;
  const expected = elementCount(t.shape, `tensor "${t.name}"`) * DTYPE_BYTES[t.dtype];
  if (data.byteLength !== expected) {
    throw new CheckpointError(`tensor "${t.name}" ${t.dtype} [${t.shape.join(', ')}] needs ${expected} bytes, got ${data.byteLength}`);
  }
  return data;
}

/** A safetensors file as the pieces to write in order: the header, then one tensor's bytes at a time (lazy tensors are converted as they are reached). */
export function* safetensorsPieces(tensors: readonly TensorBytes[], metadata: Readonly<Record<string, string>> = {}): Generator<Uint8Array> {
  yield encodeSafetensorsHeader(tensors, metadata).bytes;
  for (const t of tensors) yield tensorData(t);
}

/** The whole file in memory (for small files and browsers; Node writes large ones with writeSafetensorsFile). */
export function encodeSafetensors(tensors: readonly TensorBytes[], metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const { bytes: head, header } = encodeSafetensorsHeader(tensors, metadata);
  const out = new Uint8Array(header.dataOffset + header.dataLength);
  out.set(head, 0);
  tensors.forEach((t, i) => out.set(tensorData(t), header.dataOffset + header.tensors[i]!.begin));
  return out;
}

/** Parses a whole file held in memory; tensor bytes are views into `bytes` (no copies). */
export function decodeSafetensors(bytes: Uint8Array, source = ''): { header: SafetensorsHeader; tensors: Map<string, HostTensor> } {
  const length = readHeaderLength(bytes.subarray(0, 8), bytes.byteLength, source);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + length), bytes.byteLength, source);
  const tensors = new Map<string, HostTensor>();
  for (const t of header.tensors) {
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, bytes: bytes.subarray(header.dataOffset + t.begin, header.dataOffset + t.end) });
  }
  return { header, tensors };
}

/** Receives a safetensors file as it is read. */
export interface SafetensorsSink {
  /** Called once the header is parsed and validated; throw to stop (e.g. names that disagree with a config). */
  header?(header: SafetensorsHeader): void | Promise<void>;
  /**
   * One tensor, in file order. `bytes` may be a view into a reused buffer: it is valid only until
   * the returned promise settles, so copy or upload it before returning.
   */
  tensor(info: SafetensorsTensorInfo, bytes: Uint8Array): void | Promise<void>;
  /** File bytes consumed so far (header included) and the file size when known. */
  progress?(loaded: number, total: number | undefined): void;
}

/**
 * A FIFO of received chunks. take(n) returns a view of one chunk when the n bytes lie in it
 * (no copy), else copies them into a reused scratch buffer (valid until the next take); it
 * allocates only once all n bytes have arrived, so a header that claims more than the stream
 * delivers cannot make us allocate it.
 */
class ChunkQueue {
  // chunks[first..] are pending; consumed ones are dropped in batches (Array.shift is linear in
  // the array's length, which made many small chunks quadratic).
  private chunks: Uint8Array[] = [];
  private first = 0;
  private head = 0; // offset into chunks[first]
  private scratch = new Uint8Array(0);
  available = 0;

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.available += chunk.byteLength;
  }

  take(n: number): Uint8Array {
    if (n > this.available) throw new Error(`ChunkQueue.take(${n}) with ${this.available} available`);
    const current = this.chunks[this.first];
    if (n === 0) return new Uint8Array(0);
    if (current && current.byteLength - this.head >= n) {
      const view = current.subarray(this.head, this.head + n);
      this.advance(n);
      return view;
    }
    // Reused: fresh memory is slow to touch on some machines, and the caller copies anyway.
    if (this.scratch.byteLength < n) this.scratch = new Uint8Array(n);
    const out = this.scratch.subarray(0, n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[this.first]!;
      const part = Math.min(n - filled, chunk.byteLength - this.head);
      out.set(chunk.subarray(this.head, this.head + part), filled);
      filled += part;
      this.advance(part);
    }
    return out;
  }

  private advance(n: number): void {
    this.available -= n;
    this.head += n;
    while (this.first < this.chunks.length && this.head >= this.chunks[this.first]!.byteLength) {
      this.head -= this.chunks[this.first]!.byteLength;
      this.first++;
    }
    if (this.first > 1024 && this.first * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}

/**
 * Reads a safetensors file from a stream, handing each tensor to the sink as soon as its bytes
 * have arrived: the whole file is never held in memory. `total` (e.g. Content-Length) lets the
 * header be checked against the file size before any tensor is read.
 */
export async function readSafetensorsStream(
  stream: ReadableStream<Uint8Array>,
  sink: SafetensorsSink,
  options: { total?: number; source?: string } = {},
): Promise<SafetensorsHeader> {
  const source = options.source ?? '';
  const total = options.total;
  const reader = stream.getReader();
  const queue = new ChunkQueue();
  let loaded = 0;
  let done = false;
  const fill = async (n: number, what: string): Promise<void> => {
    while (queue.available < n) {
      if (done) {
        throw new CheckpointError(
          `${where(source)}truncated safetensors file: the stream ended after ${loaded} bytes, in ${what}${total !== undefined ? ` (expected ${total} bytes)` : ''}`,
        );
      }
      const { value, done: end } = await reader.read();
      if (end) done = true;
      else {
        queue.push(value);
        loaded += value.byteLength;
        if (total !== undefined && loaded > total) {
          throw new CheckpointError(`${where(source)}the stream delivered more than the ${total} bytes announced`);
        }
        sink.progress?.(loaded, total);
      }
    }
  };
  try {
    await fill(8, 'the header length');
    const length = readHeaderLength(queue.take(8), total, source);
    await fill(length, 'the header');
    const header = parseSafetensorsHeader(queue.take(length).slice(), total, source);
    await sink.header?.(header);
    for (const t of header.tensors) {
      await fill(t.end - t.begin, `tensor "${t.name}"`);
      await sink.tensor(t, queue.take(t.end - t.begin));
    }
    // Nothing may follow the last tensor.
    while (!done && queue.available === 0) {
      const { value, done: end } = await reader.read();
      if (end) done = true;
      else queue.push(value);
    }
    if (queue.available > 0) {
      throw new CheckpointError(`${where(source)}safetensors data continues after the last tensor: the header does not cover the file`);
    }
    return header;
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    throw error;
  } finally {
    reader.releaseLock();
  }
}

/** Fills `into` from `position`; CheckpointError when the file ends first. */
async function readExactly(file: OpenedFile, into: Uint8Array, position: number, what: string, source: string): Promise<void> {
  for (let at = 0; at < into.byteLength; ) {
    const n = await file.readAt!(into.subarray(at), position + at);
    if (n === 0) {
      throw new CheckpointError(`${where(source)}truncated safetensors file: it ends at byte ${position + at}, in ${what}`);
    }
    at += n;
  }
}

/** Random access (files on disk): each tensor is read straight into one reused buffer. */
async function readRandomAccess(file: OpenedFile, sink: SafetensorsSink, source: string): Promise<SafetensorsHeader> {
  const total = file.total;
  const first8 = new Uint8Array(8);
  if (total !== undefined && total < 8) readHeaderLength(first8.subarray(0, total), total, source);
  await readExactly(file, first8, 0, 'the header length', source);
  const length = readHeaderLength(first8, total, source);
  const json = new Uint8Array(length);
  await readExactly(file, json, 8, 'the header', source);
  const header = parseSafetensorsHeader(json, total, source);
  let loaded = 8 + length;
  sink.progress?.(loaded, total);
  await sink.header?.(header);
  let buffer = new Uint8Array(0);
  const piece = 16 * 1024 * 1024;
  for (const t of header.tensors) {
    const n = t.end - t.begin;
    // n is within the file's size: the header was checked against it.
    if (buffer.byteLength < n) buffer = new Uint8Array(n);
    const bytes = buffer.subarray(0, n);
    for (let at = 0; at < n; at += piece) {
      const part = bytes.subarray(at, Math.min(n, at + piece));
      await readExactly(file, part, header.dataOffset + t.begin + at, `tensor "${t.name}"`, source);
      loaded += part.byteLength;
      sink.progress?.(loaded, total);
    }
    await sink.tensor(t, bytes);
  }
  return header;
}

/**
 * Reads an opened safetensors file into `sink`: by random access when the file offers it
 * (disk), else as a stream.
 */
export async function readSafetensorsFile(file: OpenedFile, sink: SafetensorsSink, options: { source?: string } = {}): Promise<SafetensorsHeader> {
  const source = options.source ?? '';
  if (!file.readAt) return readSafetensorsStream(file.stream, sink, { total: file.total, source });
  try {
    return await readRandomAccess(file, sink, source);
  } finally {
    await file.close?.();
  }
}
