// Mutations of PNG files, shared by the fuzz tests of decodePNG and of what takes images from
// users (masks given to inpaint), both in fuzz-png.test.ts: valid PNGs of every colour type and
// depth, mutated chunk by chunk (IHDR fields set to boundary values, chunks dropped,
// repeated, reordered, split or inserted, image data replaced by too little, too much or a
// decompression bomb, CRCs left wrong) and byte by byte.
import fc from 'fast-check';
import { encode } from 'fast-png';
import { zlibSync } from 'fflate';
import { crc32 } from '../../src/io/png.js';
import { byteMutation, concat, mutateBytes, mutations, type ByteMutation } from './fuzz.js';

// ------------------------------------------------------------------ valid PNGs

export const imageSpec = fc.record({
  width: fc.integer({ min: 1, max: 9 }),
  height: fc.integer({ min: 1, max: 9 }),
  kind: fc.constantFrom('grey1', 'grey2', 'grey4', 'grey8', 'grey16', 'greyalpha8', 'greyalpha16', 'rgb8', 'rgb16', 'rgba8', 'rgba16', 'indexed8', 'indexed4', 'indexed1'),
  seed: fc.nat(255),
});

export type ImageSpec = typeof imageSpec extends fc.Arbitrary<infer T> ? T : never;

export function makePNG(s: ImageSpec): Uint8Array {
  const channels = s.kind.startsWith('rgba') ? 4 : s.kind.startsWith('rgb') ? 3 : s.kind.startsWith('greyalpha') ? 2 : 1;
  const depth = Number(/\d+$/.exec(s.kind)![0]) as 1 | 2 | 4 | 8 | 16;
  const n = s.width * s.height * channels;
  if (s.kind.startsWith('indexed')) {
    const colours = Math.min(2 ** depth, 5);
    const palette = Array.from({ length: colours }, (_, i) => [(i * 50 + s.seed) & 255, (i * 90) & 255, (i * 20 + 7) & 255] as [number, number, number]);
    const data = Uint8Array.from({ length: n }, (_, i) => (i + s.seed) % colours);
    return encode({ width: s.width, height: s.height, data: packBits(data, s.width, s.height, depth), channels: 1, depth, palette });
  }
  const max = 2 ** depth - 1;
  const values = Array.from({ length: n }, (_, i) => ((i * 37 + s.seed) * 2654435761) % (max + 1));
  const data = depth === 16 ? Uint16Array.from(values) : depth === 8 ? Uint8Array.from(values) : packBits(Uint8Array.from(values), s.width, s.height, depth);
  return encode({ width: s.width, height: s.height, data, channels, depth });
}

/** Packs sub-byte samples into rows (fast-png's input for depths below 8). */
function packBits(values: Uint8Array, width: number, height: number, depth: number): Uint8Array {
  if (depth === 8) return values;
  const rowBytes = Math.ceil((width * depth) / 8);
  const out = new Uint8Array(rowBytes * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out[y * rowBytes + Math.floor((x * depth) / 8)]! |= values[y * width + x]! << (8 - depth - ((x * depth) % 8));
  }
  return out;
}

// ------------------------------------------------------------------ chunk-level mutations

interface Chunk {
  type: string;
  data: Uint8Array;
  badCrc?: boolean;
  length?: number;
}

function chunksOf(png: Uint8Array): Chunk[] {
  const out: Chunk[] = [];
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  for (let at = 8; at + 12 <= png.byteLength; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    out.push({ type, data: png.slice(at + 8, at + 8 + length) });
    at += 12 + length;
  }
  return out;
}

function serialise(chunks: readonly Chunk[]): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10])];
  for (const c of chunks) {
    const head = new Uint8Array(8);
    new DataView(head.buffer).setUint32(0, c.length ?? c.data.byteLength);
    head.set([...c.type].map((ch) => ch.charCodeAt(0) & 255), 4);
    const tail = new Uint8Array(4);
    new DataView(tail.buffer).setUint32(0, crc32(concat([head.subarray(4), c.data])) ^ (c.badCrc ? 1 : 0));
    parts.push(head, c.data, tail);
  }
  return concat(parts);
}

type ChunkOp = 'ihdr' | 'drop' | 'dup' | 'swap' | 'split' | 'insert' | 'idat' | 'length' | 'crc';
interface ChunkMutation {
  op: ChunkOp;
  at: number;
  value: number;
}

export const chunkMutation: fc.Arbitrary<ChunkMutation> = fc.record({
  op: fc.constantFrom<ChunkOp>('ihdr', 'ihdr', 'drop', 'dup', 'swap', 'split', 'insert', 'idat', 'idat', 'length', 'crc'),
  at: fc.nat(),
  value: fc.nat(),
});

const IHDR_VALUES: readonly (readonly number[])[] = [
  [0, 1, 2, 3, 9, 1000, 65535, 65536, 30_000, 100_000, 2 ** 31 - 1, 2 ** 32 - 1], // width
  [0, 1, 2, 3, 9, 1000, 65535, 65536, 30_000, 100_000, 2 ** 31 - 1, 2 ** 32 - 1], // height
  [0, 1, 2, 3, 4, 5, 8, 16, 32, 255], // bit depth
  [0, 1, 2, 3, 4, 5, 6, 7, 255], // colour type
  [0, 1, 255], // compression
  [0, 1, 255], // filter method
  [0, 1, 2, 255], // interlace
];

/** A zlib stream of 64 MiB of zeros (64 KB compressed): the image data of a bomb (made once, outside the timed cases). */
const bomb = zlibSync(new Uint8Array(64 * 1024 * 1024), { level: 9 });
const bombData = () => bomb;

function insertable(value: number): Chunk {
  const k = value % 12;
  const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + value) & 255);
  switch (k) {
    case 0:
      return { type: 'PLTE', data: bytes(3 * (1 + (value % 300))) };
    case 1:
      return { type: 'PLTE', data: bytes(4) };
    case 2:
      return { type: 'tRNS', data: bytes(value % 20) };
    case 3:
      return { type: 'tEXt', data: new TextEncoder().encode('Comment\0fuzz') };
    case 4:
      return { type: 'iCCP', data: concat([new TextEncoder().encode('icc\0\0'), bombData()]) };
    case 5:
      return { type: 'zzzz', data: bytes(value % 64) };
    case 6:
      return { type: 'ZZZZ', data: bytes(4) };
    case 7:
      return { type: 'IEND', data: new Uint8Array(0) };
    case 8:
      return { type: 'IHDR', data: bytes(13) };
    case 9:
      return { type: 'acTL', data: bytes(8) };
    case 10:
      return { type: 'IDAT', data: zlibSync(bytes(value % 100)) };
    default:
      return { type: 'pHYs', data: bytes(9) };
  }
}

export function mutateChunks(png: Uint8Array, ops: readonly ChunkMutation[]): Uint8Array {
  const chunks = chunksOf(png);
  for (const m of ops) {
    if (chunks.length === 0) break;
    const i = m.at % chunks.length;
    const c = chunks[i]!;
    switch (m.op) {
      case 'ihdr': {
        const ihdr = chunks.find((x) => x.type === 'IHDR');
        if (!ihdr || ihdr.data.byteLength < 13) break;
        ihdr.data = ihdr.data.slice();
        const field = m.at % IHDR_VALUES.length;
        const values = IHDR_VALUES[field]!;
        const v = values[m.value % values.length]!;
        const view = new DataView(ihdr.data.buffer);
        if (field < 2) view.setUint32(field * 4, v >>> 0);
        else ihdr.data[6 + field] = v;
        break;
      }
      case 'drop':
        chunks.splice(i, 1);
        break;
      case 'dup':
        chunks.splice(i, 0, { ...c });
        break;
      case 'swap': {
        const j = m.value % chunks.length;
        [chunks[i], chunks[j]] = [chunks[j]!, c];
        break;
      }
      case 'split':
        if (c.type === 'IDAT' && c.data.byteLength > 1) {
          const at = 1 + (m.value % (c.data.byteLength - 1));
          chunks.splice(i, 1, { type: 'IDAT', data: c.data.subarray(0, at) }, { type: 'IDAT', data: c.data.subarray(at) });
        }
        break;
      case 'insert':
        chunks.splice(i, 0, insertable(m.value));
        break;
      case 'idat': {
        const idat = chunks.findIndex((x) => x.type === 'IDAT');
        if (idat < 0) break;
        const k = m.value % 5;
        const size = [0, 1, 7, 1000, 100_000][m.value % 5]!;
        chunks[idat] = {
          type: 'IDAT',
          // Too little or too much image data, a bomb, raw bytes that are not zlib, or nothing.
          data: k === 4 ? bombData() : k === 3 ? Uint8Array.from({ length: 50 }, (_, j) => (j * m.value) & 255) : zlibSync(new Uint8Array(size).fill(m.value & 3)),
        };
        break;
      }
      case 'length':
        c.length = [0, 1, c.data.byteLength + 1, c.data.byteLength - 1, 2 ** 31 - 1, 2 ** 32 - 1][m.value % 6]! >>> 0;
        break;
      case 'crc':
        c.badCrc = true;
        break;
    }
  }
  return serialise(chunks);
}

/** A valid PNG of `image`'s kind, mutated chunk by chunk and byte by byte (`other` is spliced from). */
function cases(image: fc.Arbitrary<ImageSpec>) {
  return fc.record({
    image,
    other: imageSpec,
    chunks: mutations(3, 1, chunkMutation, 3),
    bytes: mutations(1, 3, byteMutation, 2),
  });
}

export const caseSpec = cases(imageSpec);

export type CaseSpec = typeof caseSpec extends fc.Arbitrary<infer T> ? T : never;

/** Cases of a mask for a `size` x `size` image: valid PNGs of that size (every colour type and depth), mutated as caseSpec's are. */
export function maskCaseSpec(size: number): fc.Arbitrary<CaseSpec> {
  return cases(imageSpec.map((s) => ({ ...s, width: size, height: size })));
}

export function mutated(c: CaseSpec): Uint8Array {
  const png = makePNG(c.image);
  return mutateBytes(c.chunks.length ? mutateChunks(png, c.chunks) : png, c.bytes as ByteMutation[], makePNG(c.other));
}

