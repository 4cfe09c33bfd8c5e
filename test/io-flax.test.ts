// Flax msgpack: a file written by Flax itself (test/fixtures/flax-golden.msgpack, made by
// make-flax-golden.py) is read to the right values and written back byte for byte; array
// bytes are views into the file; malformed files -> CheckpointError.
import { encode, ExtensionCodec } from '@msgpack/msgpack';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError, concatPieces, decodeFlaxCheckpoint, encodeFlaxCheckpoint, FlaxArray, flattenFlaxTree, memorySource, readFlaxCheckpoint, type ByteSource, type FlaxTree } from '../src/node.js';
import { f16BitsToF32 } from '../src/tensor/half.js';

const golden = new Uint8Array(readFileSync(join(__dirname, 'fixtures/flax-golden.msgpack')));

function floats(a: FlaxArray): number[] {
  const b = a.bytes.slice();
  const view = new DataView(b.buffer);
  const out: number[] = [];
  for (let i = 0; i < a.size; i++) {
    if (a.dtype === 'float32') out.push(view.getFloat32(i * 4, true));
    else if (a.dtype === 'float64') out.push(view.getFloat64(i * 8, true));
    else if (a.dtype === 'float16') out.push(f16BitsToF32(view.getUint16(i * 2, true)));
    else if (a.dtype === 'bfloat16') out.push(new Float32Array(new Uint32Array([view.getUint16(i * 2, true) << 16]).buffer)[0]!);
    else if (a.dtype === 'int32') out.push(view.getInt32(i * 4, true));
  }
  return out;
}

/** msgpack with a reference encoder (@msgpack/msgpack) and the same Flax extensions. */
function referenceEncode(tree: FlaxTree): Uint8Array {
  const codec = new ExtensionCodec();
  codec.register({
    type: 1,
    encode: (v) => (v instanceof FlaxArray && v.shape.length > 0 ? encode([v.shape, v.dtype, v.bytes]) : null),
    decode: () => null,
  });
  codec.register({
    type: 3,
    encode: (v) => (v instanceof FlaxArray && v.shape.length === 0 ? encode([v.shape, v.dtype, v.bytes]) : null),
    decode: () => null,
  });
  return encode(tree, { extensionCodec: codec });
}

describe('Flax msgpack checkpoints', () => {
  it('reads a file written by flax.serialization.msgpack_serialize (chunked arrays, numpy scalar, dtypes)', () => {
    const tree = decodeFlaxCheckpoint(golden, 'golden');
    const flat = flattenFlaxTree(tree);
    const get = (path: string) => flat.get(path) as FlaxArray;
    expect(get('params/Dense_0/kernel').shape).toEqual([2, 3]);
    expect(floats(get('params/Dense_0/kernel'))).toEqual([-1, -0.5, 0, 0.5, 1, 1.5]);
    expect(floats(get('params/Dense_0/bias'))).toEqual([1.5, -2.25, 3]);
    expect(floats(get('params/big'))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(get('params/half').shape).toEqual([2, 2]);
    expect(floats(get('params/half'))).toEqual([0.5, -1, 65504, f16BitsToF32(0x0002)]);
    expect(floats(get('params/brain'))).toEqual([1.5, -0.125]);
    expect(floats(get('params/ints'))).toEqual([-3, 7, 2 ** 31 - 1]);
    expect(floats(get('params/f64'))).toEqual([1 / 3]);
    const scalar = get('params/scalar');
    expect([scalar.shape, scalar.dtype, floats(scalar)]).toEqual([[], 'float32', [2.5]]);
    expect(flat.get('params/step')).toBe(7);
    expect(flat.get('params/name')).toBe('maskgit');
  });

  it('writes what Flax writes, byte for byte (and what a reference msgpack encoder writes)', () => {
    const tree = decodeFlaxCheckpoint(golden);
    const ours = concatPieces(encodeFlaxCheckpoint(tree, { maxChunkBytes: 16 }));
    expect(ours.byteLength).toBe(golden.byteLength);
    expect(ours.every((b, i) => b === golden[i])).toBe(true);
    // Without chunking, a reference encoder with the same extensions agrees too.
    const unchunked = concatPieces(encodeFlaxCheckpoint(tree));
    expect(unchunked.every((b, i) => b === referenceEncode(tree)[i])).toBe(true);
    // Big values: 16/32-bit lengths and 64 KiB arrays.
    const big: FlaxTree = { ['k'.repeat(300)]: FlaxArray.fromFloat32(new Float32Array(20000).fill(0.25), [100, 200]), n: [-1, -200, -40000, 70000, 2 ** 40, 0.5, null, true] };
    const reference = referenceEncode(big);
    const pieces = concatPieces(encodeFlaxCheckpoint(big));
    expect(pieces.byteLength).toBe(reference.byteLength);
    expect(pieces.every((b, i) => b === reference[i])).toBe(true);
  });

  it('keeps array bytes as views into the file, not copies', () => {
    const tree = decodeFlaxCheckpoint(golden);
    const bias = flattenFlaxTree(tree).get('params/Dense_0/bias') as FlaxArray;
    expect(bias.bytes.buffer).toBe(golden.buffer);
    // A chunked array is joined, once.
    const big = flattenFlaxTree(tree).get('params/big') as FlaxArray;
    expect(big.bytes.buffer).not.toBe(golden.buffer);
  });

  it('rejects malformed files with CheckpointError', () => {
    const bad = (bytes: Uint8Array) => () => decodeFlaxCheckpoint(bytes, 'ckpt');
    const ext = (type: number, payload: Uint8Array) => {
      const out = new Uint8Array(1 + 6 + 2 + payload.byteLength);
      out.set([0x81, 0xa1, 0x78, 0xc7, payload.byteLength, type & 0xff]); // {x: ext8}
      out.set(payload, 6);
      return out.subarray(0, 6 + payload.byteLength);
    };
    for (const cut of [1, 10, golden.byteLength / 2, golden.byteLength - 1]) {
      expect(bad(golden.subarray(0, cut)), `cut at ${cut}`).toThrow(/ckpt: truncated Flax checkpoint/);
    }
    expect(bad(ext(2, encode([1.5, 2])))).toThrow(/ckpt: the checkpoint holds a complex number \(msgpack extension 2\)/);
    expect(bad(ext(5, encode([[1], 'float32', new Uint8Array(4)])))).toThrow(/unknown msgpack extension type 5/);
    expect(bad(ext(-1, new Uint8Array(4)))).toThrow(/unknown msgpack extension type -1/);
    expect(bad(ext(1, encode([[2], 'float32', new Uint8Array(4)])))).toThrow(/float32 array of shape \[2\] needs 8 bytes but holds 4/);
    expect(bad(ext(1, encode([[1], 'complex64', new Uint8Array(8)])))).toThrow(/complex arrays \(complex64\) are not supported/);
    expect(bad(ext(1, encode([[1], 'float12', new Uint8Array(8)])))).toThrow(/unknown array dtype "float12"/);
    expect(bad(ext(1, encode(['float32', new Uint8Array(4)])))).toThrow(/payload is not \[shape, dtype, bytes\]/);
    expect(bad(ext(3, encode([[2], 'float32', new Uint8Array(8)])))).toThrow(/numpy scalar .* has shape \[2\], expected \[\]/);
    expect(bad(encode([1, 2, 3]))).toThrow(/a Flax checkpoint is a msgpack map at the top, found a list/);
    expect(bad(new Uint8Array([0xc1]))).toThrow(CheckpointError);
    expect(bad(concatPieces([golden, new Uint8Array([0])]))).toThrow(/ckpt: not a valid Flax msgpack checkpoint \(Extra 1 of/);
    // A list header claiming 2^32-1 items in a 5-byte file fails at once.
    expect(bad(new Uint8Array([0x81, 0xa1, 0x78, 0xdd, 0xff, 0xff, 0xff, 0xff]))).toThrow(CheckpointError);
    // Chunked arrays whose pieces do not fill the shape, or skip a key.
    const chunk = (n: number) => FlaxArray.fromFloat32(new Float32Array(n), [n]);
    const chunked = (shape: Record<string, number>, chunks: Record<string, FlaxArray>) =>
      concatPieces(encodeFlaxCheckpoint({ w: { __msgpack_chunked_array__: true, shape, chunks } }));
    expect(bad(chunked({ 0: 2, 1: 3 }, { 0: chunk(4), 1: chunk(1) }))).toThrow(/ckpt: w: chunks do not fill the shape/);
    expect(bad(chunked({ 0: 5 }, { 0: chunk(4), 2: chunk(1) }))).toThrow(/chunks lacks key "1"/);
  });

  it('reads lazily from a ByteSource: the structure first, each array\'s bytes only when used (same values, same errors)', () => {
    const reads: [number, number][] = [];
    const counting = (bytes: Uint8Array): ByteSource => ({
      size: bytes.byteLength,
      read: (offset, length) => {
        reads.push([offset, length]);
        return bytes.slice(offset, offset + length);
      },
    });
    // Large arrays, so their payloads lie outside the header windows the reader fetches.
    const big = (n: number, v: number) => FlaxArray.fromFloat32(new Float32Array(n).fill(v), [n]);
    const tree: FlaxTree = { params: { a: big(40_000, 1.5), b: { c: big(30_000, -2) }, n: 3 }, chunked: big(50_000, 0.25) };
    const file = concatPieces(encodeFlaxCheckpoint(tree, { maxChunkBytes: 64_000 }));
    const lazy = readFlaxCheckpoint(counting(file), 'lazy', { lazy: true });
    const headerBytes = reads.reduce((n, [, length]) => n + length, 0);
    expect(headerBytes).toBeLessThan(file.byteLength / 4);
    const eager = decodeFlaxCheckpoint(file);
    for (const [path, value] of flattenFlaxTree(eager)) {
      const other = flattenFlaxTree(lazy).get(path);
      if (!(value instanceof FlaxArray)) {
        expect(other, path).toEqual(value);
        continue;
      }
      expect(other).toBeInstanceOf(FlaxArray);
      const array = other as FlaxArray;
      expect([array.lazy, array.shape, array.dtype, array.byteLength]).toEqual([true, value.shape, value.dtype, value.byteLength]);
      reads.length = 0;
      expect(Buffer.from(array.bytes).equals(Buffer.from(value.bytes)), path).toBe(true);
      // Reading an array reads its payload (its chunks' payloads), nothing else.
      expect(reads.reduce((n, [, length]) => n + length, 0), path).toBe(value.byteLength);
    }
    // The same messages as in memory, for a cut anywhere.
    for (const cut of [1, 100, file.byteLength >> 1, file.byteLength - 1]) {
      const expected = (() => {
        try {
          decodeFlaxCheckpoint(file.subarray(0, cut), 'x');
        } catch (error) {
          return (error as Error).message;
        }
      })();
      expect(expected).toMatch(/^x: truncated Flax checkpoint/);
      expect(() => readFlaxCheckpoint(memorySource(file.subarray(0, cut)), 'x', { lazy: true })).toThrow(expected);
    }
    expect(() => readFlaxCheckpoint(memorySource(new Uint8Array(0)), 'x')).toThrow(/^x is empty$/);
  });
});
