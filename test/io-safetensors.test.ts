// safetensors: bit-exact round trips (host, file -> GPU, streams in any chunking), the f16
// conversion error, and every malformed-file case -> CheckpointError, nothing left allocated.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  decodeSafetensors,
  encodeSafetensors,
  f32ArrayToF16,
  loadSafetensors,
  readSafetensorsStream,
  SAFETENSORS_MAX_HEADER_BYTES,
  writeSafetensorsFile,
  type SafetensorsHeader,
  type TensorBytes,
} from '../src/node.js';
import { f16BitsToF32, f32ToF16Bits } from '../src/tensor/half.js';
import { getEngine } from './helpers/engine.js';
import { normal, randomInts } from './helpers/random.js';

const work = mkdtempSync(join(tmpdir(), 'maskgit-st-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** f32 values including the awkward ones: -0, infinities, subnormals, a NaN with a payload. */
function specialF32(n: number, seed: number): Float32Array {
  const v = normal(n, seed, 3);
  const bits = new Uint32Array(v.buffer);
  bits[0] = 0x80000000; // -0
  bits[1] = 0x7f800000; // +inf
  bits[2] = 0xff800000; // -inf
  bits[3] = 0x00000001; // smallest subnormal
  bits[4] = 0x7fc01234; // NaN with payload
  return v;
}

const f32 = specialF32(257, 1);
const f16 = f32ArrayToF16(normal(1025, 2, 10));
f16[0] = 0x8000; // -0
f16[1] = 0x7c00; // inf
f16[2] = 0x0001; // subnormal
const i32 = randomInts(17, 3, -(2 ** 31), 2 ** 31 - 1);
i32[0] = -(2 ** 31);
i32[1] = 2 ** 31 - 1;

const tensors: TensorBytes[] = [
  { name: 'a.f32', dtype: 'F32', shape: [257], data: bytesOf(f32) },
  { name: 'b.f16', dtype: 'F16', shape: [5, 205], data: bytesOf(f16) },
  { name: 'c.i32', dtype: 'I32', shape: [17, 1], data: bytesOf(i32) },
  { name: 'd.scalar', dtype: 'F32', shape: [], data: bytesOf(new Float32Array([42])) },
  { name: 'e.empty', dtype: 'F32', shape: [0, 3], data: new Uint8Array(0) },
];

function sameBits(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}

/** A stream that delivers `bytes` in chunks of the given sizes (cycled). */
function chunked(bytes: Uint8Array, sizes: number[]): ReadableStream<Uint8Array> {
  let at = 0;
  let k = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.byteLength) return controller.close();
      const n = sizes[k++ % sizes.length]!;
      controller.enqueue(bytes.slice(at, at + n));
      at += n;
    },
  });
}

/** Reads a stream with a sink that copies every tensor. */
async function readAllTensors(stream: ReadableStream<Uint8Array>, total?: number): Promise<{ header: SafetensorsHeader; data: Map<string, Uint8Array> }> {
  const data = new Map<string, Uint8Array>();
  const header = await readSafetensorsStream(stream, { tensor: (info, bytes) => void data.set(info.name, bytes.slice()) }, { total });
  return { header, data };
}

/** A raw file: the 8-byte length (or `length`), the header text, then `data`. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), length?: bigint): Uint8Array {
  const text = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + text.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(text.byteLength), true);
  out.set(text, 8);
  out.set(data, 8 + text.byteLength);
  return out;
}

describe('safetensors round trips', () => {
  it('encode -> decode in memory is bit-exact, with metadata, 8-byte aligned data', () => {
    const file = encodeSafetensors(tensors, { format: 'pt', note: 'ünïcode' });
    const { header, tensors: back } = decodeSafetensors(file);
    expect(header.dataOffset % 8).toBe(0);
    expect(header.metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect(header.tensors.map((t) => t.name)).toEqual(tensors.map((t) => t.name));
    for (const t of tensors) {
      const b = back.get(t.name)!;
      expect([b.dtype, ...b.shape]).toEqual([t.dtype, ...t.shape]);
      expect(sameBits(b.bytes, t.data as Uint8Array), t.name).toBe(true);
      // Views into the file, not copies.
      expect(b.bytes.buffer).toBe(file.buffer);
    }
  });

  it('streams in any chunking (1 byte, odd sizes, whole) to the same bytes', async () => {
    const file = encodeSafetensors(tensors);
    for (const sizes of [[1], [7, 3, 1000], [file.byteLength]]) {
      for (const total of [file.byteLength, undefined]) {
        const { data } = await readAllTensors(chunked(file, sizes), total);
        for (const t of tensors) expect(sameBits(data.get(t.name)!, t.data as Uint8Array), `${t.name} chunks ${sizes} total ${total}`).toBe(true);
      }
    }
  });

  it('file -> GPU is bit-exact for f32 (incl. -0, inf, subnormal, NaN payload), f16 and i32', async () => {
    const engine = await getEngine();
    const path = join(work, 'roundtrip.safetensors');
    await writeSafetensorsFile(path, tensors, { format: 'pt' });
    const { tensors: gpu, metadata } = await loadSafetensors(engine, path, { dtype: 'f32' });
    expect(metadata).toEqual({ format: 'pt' });
    expect(gpu.get('b.f16')!.dtype).toBe('f32');
    const a = await gpu.get('a.f32')!.read();
    expect(sameBits(bytesOf(a), bytesOf(f32))).toBe(true);
    expect(sameBits(bytesOf(await gpu.get('c.i32')!.read()), bytesOf(i32))).toBe(true);
    expect(gpu.get('c.i32')!.dtype).toBe('i32');
    expect([...(await gpu.get('d.scalar')!.read())]).toEqual([42]);
    expect(gpu.get('e.empty')!.shape).toEqual([0, 3]);
    // F16 widened to f32 on request: exact.
    const widened = await gpu.get('b.f16')!.read();
    expect(widened.every((v, i) => Object.is(v, f16BitsToF32(f16[i]!)))).toBe(true);
    for (const t of gpu.values()) t.dispose();

    if (engine.hasF16) {
      // 'auto': each tensor keeps its own float dtype.
      const { tensors: half } = await loadSafetensors(engine, path);
      expect(half.get('a.f32')!.dtype).toBe('f32');
      const h = half.get('b.f16')!;
      expect(h.dtype).toBe('f16');
      const back = await h.read();
      // Back to f16 bits: exactly the file's.
      expect(Array.from(back, (v) => f32ToF16Bits(v)).every((bits, i) => bits === f16[i])).toBe(true);
      for (const t of half.values()) t.dispose();
    }
  });

  it('states the f32 -> f16 load error: relative <= 2^-11 in the normal range, absolute <= 2^-25 below it', async () => {
    const engine = await getEngine();
    if (!engine.hasF16) return;
    // Magnitudes from 1e-8 to 6e4 (f16's range), both signs.
    const n = 4096;
    const v = new Float32Array(n);
    const u = normal(n, 9);
    for (let i = 0; i < n; i++) v[i] = Math.sign(u[i]!) * 10 ** (-8 + (12.7 * i) / n);
    const path = join(work, 'f32.safetensors');
    await writeSafetensorsFile(path, [{ name: 'v', dtype: 'F32', shape: [n], data: bytesOf(v) }]);
    const { tensors: half } = await loadSafetensors(engine, path, { dtype: 'f16' });
    expect(half.get('v')!.dtype).toBe('f16');
    const back = await half.get('v')!.read();
    let relative = 0;
    let absolute = 0;
    for (let i = 0; i < n; i++) {
      const err = Math.abs(back[i]! - v[i]!);
      if (Math.abs(v[i]!) >= 2 ** -14) relative = Math.max(relative, err / Math.abs(v[i]!));
      else absolute = Math.max(absolute, err);
    }
    console.log(`f32 -> f16 on load: max relative error ${relative.toExponential(3)} (normal range), max absolute ${absolute.toExponential(3)} (subnormal range)`);
    expect(relative).toBeLessThanOrEqual(2 ** -11);
    expect(relative).toBeGreaterThan(2 ** -13);
    expect(absolute).toBeLessThanOrEqual(2 ** -25);
    half.get('v')!.dispose();
  });
});

describe('malformed safetensors -> CheckpointError', () => {
  const data12 = new Uint8Array(12);
  const entry = (dtype: string, shape: number[], offsets: number[]) => ({ dtype, shape, data_offsets: offsets });
  const cases: [string, Uint8Array, RegExp][] = [
    ['4 bytes (no header length)', new Uint8Array(4), /truncated safetensors file: (4 bytes|the stream ended after 4 bytes, in the header length)/],
    ['a header longer than the file', rawFile({ a: entry('F32', [1], [0, 4]) }, new Uint8Array(4), 1000n), /truncated safetensors file: the header needs 1008 bytes but the file has/],
    ['a header over the 100 MB bound', rawFile('{}', new Uint8Array(0), 200_000_000n), /header of 200000000 bytes exceeds the 100000000-byte limit/],
    ['a 2^64-1 header length', rawFile('{}', new Uint8Array(0), 2n ** 64n - 1n), /exceeds the 100000000-byte limit/],
    ['a header that is not JSON', rawFile('{"a": [1, 2', data12), /header is not valid JSON/],
    ['a header that is not UTF-8', rawFile('{"ab": 1}', data12).map((b, i) => (i === 10 ? 0xff : b)), /not valid UTF-8/],
    ['a header that is a list', rawFile('[]'), /does not start with "\{"/],
    ['metadata that is not strings', rawFile({ __metadata__: { n: 1 } }), /__metadata__\.n must be a string/],
    ['an unknown dtype', rawFile({ a: entry('F7', [3], [0, 12]) }, data12), /tensor "a" has unknown dtype "F7"/],
    ['a shape that disagrees with the byte range', rawFile({ a: entry('F32', [2], [0, 12]) }, data12), /F32 \[2\] needs 8 bytes but data_offsets \[0, 12\] hold 12/],
    ['a negative dimension', rawFile({ a: entry('F32', [-3], [0, 12]) }, data12), /must hold non-negative integers/],
    ['offsets past the data', rawFile({ a: entry('F32', [3], [0, 12]), b: entry('F32', [4], [12, 28]) }, data12), /the tensors need 28 data bytes but the file holds 12/],
    ['overlapping tensors', rawFile({ a: entry('F32', [2], [0, 8]), b: entry('F32', [1], [4, 8]) }, data12), /tensor "b" bytes \[4, 8\) overlap the previous tensor/],
    ['a gap between tensors', rawFile({ a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [8, 12]) }, data12), /starts at byte 8 but the previous tensor ends at 4: the data has a gap/],
    ['data not covered', rawFile({ a: entry('F32', [2], [0, 8]) }, data12), /4 bytes after the last tensor that no tensor covers/],
    ['end before begin', rawFile({ a: entry('F32', [0], [8, 4]) }, data12), /end before begin/],
    ['offsets that are not a pair', rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0] } }, data12), /needs data_offsets \[begin, end\]/],
  ];

  it.each(cases)('rejects %s (in memory and as a stream with and without its size)', async (_, file, message) => {
    expect(() => decodeSafetensors(file)).toThrow(CheckpointError);
    expect(() => decodeSafetensors(file)).toThrow(message);
    await expect(readAllTensors(chunked(file, [5]), file.byteLength)).rejects.toThrow(message);
    // Without the size the file is checked as it arrives (some messages then differ).
    await expect(readAllTensors(chunked(file, [5]))).rejects.toThrow(CheckpointError);
  });

  it('rejects truncation at every point (header length, header, data), streamed and from a file', async () => {
    const engine = await getEngine();
    const file = encodeSafetensors(tensors);
    const before = engine.stats().pool.bytesInUse;
    for (const cut of [3, 8, 20, file.byteLength - 2000, file.byteLength - 1]) {
      const part = file.subarray(0, cut);
      await expect(readAllTensors(chunked(part, [64])), `cut ${cut}`).rejects.toThrow(/truncated safetensors file/);
      const path = join(work, `cut-${cut}.safetensors`);
      writeFileSync(path, part);
      await expect(loadSafetensors(engine, path), `cut ${cut}`).rejects.toThrow(CheckpointError);
    }
    // Tensors uploaded before the error were freed.
    expect(engine.stats().pool.bytesInUse).toBe(before);
  });

  it('a hostile header claiming a huge tensor on a stream of unknown size fails without allocating it', async () => {
    const file = rawFile({ huge: entry('F32', [2 ** 38], [0, 2 ** 40]) }, new Uint8Array(64));
    const rss = process.memoryUsage().rss;
    await expect(readAllTensors(chunked(file, [16]))).rejects.toThrow(/truncated safetensors file: the stream ended after \d+ bytes, in tensor "huge"/);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 2 ** 20);
    expect(SAFETENSORS_MAX_HEADER_BYTES).toBe(100_000_000);
  });

  it('rejects extra bytes after the last tensor on a stream of unknown size', async () => {
    const file = encodeSafetensors(tensors);
    const longer = new Uint8Array(file.byteLength + 3);
    longer.set(file);
    await expect(readAllTensors(chunked(longer, [1000]))).rejects.toThrow(/continues after the last tensor/);
  });

  it('rejects dtypes the GPU cannot hold, naming the tensor', async () => {
    const engine = await getEngine();
    const path = join(work, 'i64.safetensors');
    writeFileSync(path, encodeSafetensors([{ name: 'steps', dtype: 'I64', shape: [1], data: new Uint8Array(8) }]));
    await expect(loadSafetensors(engine, path)).rejects.toThrow(/tensor "steps" has dtype I64, which the engine cannot store/);
    await expect(loadSafetensors(engine, join(work, 'nope.safetensors'))).rejects.toThrow(/does not exist/);
  });
});
