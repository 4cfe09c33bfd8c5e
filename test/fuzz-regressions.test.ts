// One test per bug the fuzz suite found in the loaders, each the smallest input that showed it.
import { encode } from 'fast-png';
import { zlibSync } from 'fflate';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ArgumentError,
  CheckpointError,
  convertFlaxCheckpoints,
  decodeSafetensors,
  encodeSafetensors,
  loadModelWeights,
  officialConfig,
  parseModelConfig,
  readSafetensorsStream,
  sortCheckpoints,
  validateConfig,
  type FlaxTree,
  type MaskGITConfig,
} from '../src/node.js';
import { crc32, decodePNG } from '../src/io/png.js';
import { getEngine } from './helpers/engine.js';
import { TINY_TOKENIZER, TINY_TRANSFORMER, tokenizerFixture, transformerFixture } from './helpers/flax-fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'maskgit-regress-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Runs `fn` and returns the CPU time this process spent meanwhile, in ms (user + system, all
 * threads). These bugs were hangs (quadratic work, 10^8 iterations): their CPU time is tens of
 * seconds whatever the load, while the fixed code's is well under the bounds below; unlike wall
 * time, CPU time does not grow when other processes share the cores.
 */
async function cpuTimed(fn: () => unknown): Promise<number> {
  const before = process.cpuUsage();
  await fn();
  const { user, system } = process.cpuUsage(before);
  return (user + system) / 1000;
}

describe('safetensors', () => {
  it('a stream of many tiny chunks is read in linear time (the chunk queue shifted its array per chunk)', async () => {
    const data = new Uint8Array(600_000).map((_, i) => i & 255);
    const file = encodeSafetensors([{ name: 'x', dtype: 'U8', shape: [data.byteLength], data }]);
    let at = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= file.byteLength) return controller.close();
        controller.enqueue(file.subarray(at, at + 3));
        at += 3;
      },
    });
    let got: Uint8Array | null = null;
    const ms = await cpuTimed(() => readSafetensorsStream(stream, { tensor: (_, bytes) => void (got = bytes.slice()) }, { total: file.byteLength }));
    expect(Buffer.compare(got!, data)).toBe(0);
    // 200,000 chunks: quadratic took ~40 s of CPU here; linear takes well under a second.
    expect(ms).toBeLessThan(5000);
  });

  it('-0 in data_offsets or a shape reads as 0', () => {
    const json = new TextEncoder().encode('{"a":{"dtype":"U8","shape":[-0],"data_offsets":[-0,0]}}');
    const file = new Uint8Array(8 + json.byteLength);
    new DataView(file.buffer).setBigUint64(0, BigInt(json.byteLength), true);
    file.set(json, 8);
    const t = decodeSafetensors(file).header.tensors[0]!;
    expect(Object.is(t.begin, 0) && Object.is(t.shape[0], 0)).toBe(true);
  });
});

describe('Flax checkpoint conversion', () => {
  const tfm = () => structuredClone(transformerFixture(TINY_TRANSFORMER).tree) as { params: FlaxTree };
  const tok = () => tokenizerFixture(TINY_TOKENIZER).tree as { params: FlaxTree };
  const rename = (tree: FlaxTree, from: string, to: string) => {
    tree[to] = tree[from]!;
    delete tree[from];
  };

  it('a stray huge module index (TransformerLayer_99999999) is refused, not taken as 10^8 layers (it hung, then ran out of memory)', async () => {
    const t = transformerFixture(TINY_TRANSFORMER).tree as { params: FlaxTree };
    rename(t.params, 'TransformerLayer_1', 'TransformerLayer_99999999');
    const convert = () => convertFlaxCheckpoints(sortCheckpoints([{ tree: t, source: 'tfm' }, { tree: tok(), source: 'tok' }]));
    expect(await cpuTimed(() => expect(convert).toThrow(CheckpointError))).toBeLessThan(2000);
    expect(convert).toThrow(/TransformerLayer_i must be numbered 0..1 as Flax names them; found TransformerLayer_99999999 in place of TransformerLayer_1/);
  });

  it('res blocks and decoder convs must be numbered 0..n-1 too (ResBlock_01 beside ResBlock_1, a gap)', () => {
    const dup = tok();
    const encoder = dup.params.encoder as FlaxTree;
    encoder['ResBlock_01'] = encoder['ResBlock_1']!;
    expect(() => convertFlaxCheckpoints(sortCheckpoints([{ tree: dup, source: 'tok' }]))).toThrow(/encoder\/ResBlock_i must be numbered/);
    const gap = tok();
    rename(gap.params.decoder as FlaxTree, 'Conv_1', 'Conv_9');
    expect(() => convertFlaxCheckpoints(sortCheckpoints([{ tree: gap, source: 'tok' }]))).toThrow(/decoder\/Conv_i must be numbered/);
    expect(tfm).not.toThrow();
  });
});

describe('model configs', () => {
  const config = (): MaskGITConfig => officialConfig(256);

  it('a missing field is an ArgumentError naming it (a config without mlpSize validated)', () => {
    const c = config() as unknown as { transformer: Record<string, unknown> };
    delete c.transformer.mlpSize;
    expect(() => validateConfig(c as unknown as MaskGITConfig)).toThrow(ArgumentError);
    expect(() => validateConfig(c as unknown as MaskGITConfig)).toThrow(/^transformer.mlpSize: must be a positive integer, got undefined/);
  });

  it('validateConfig(null) and non-object sections are ArgumentErrors, not TypeErrors', () => {
    expect(() => validateConfig(null as unknown as MaskGITConfig)).toThrow(ArgumentError);
    expect(() => validateConfig({ ...config(), tokenizer: 5 } as unknown as MaskGITConfig)).toThrow(/^tokenizer: must be an object/);
  });

  it('numbers JSON cannot hold, and others it can, are refused: Infinity eps, 1e30 sizes, fractional multipliers, bad class names', () => {
    const cases: [(c: MaskGITConfig) => void, RegExp][] = [
      [(c) => (c.transformer.layerNormEps = Infinity), /transformer.layerNormEps/],
      [(c) => (c.transformer.hiddenSize = 1e30), /transformer.hiddenSize/],
      [(c) => (c.tokenizer.channelMultipliers = [1, 1.5]), /tokenizer.channelMultipliers/],
      [(c) => (c.classNames = ['only one']), /classNames: must be a list of 1000 strings/],
    ];
    for (const [edit, message] of cases) {
      const c = config();
      edit(c);
      expect(() => validateConfig(c)).toThrow(message);
    }
  });

  it('config.json asking for 10^9 layers is refused at once (the loader enumerated every parameter name first)', async () => {
    const c = { ...config(), transformer: { ...config().transformer, numLayers: 1e9 } };
    expect(() => parseModelConfig(JSON.stringify(c), 'config.json')).toThrow(/transformer.numLayers: 1000000000 is more than the 1024 this library supports/);
    const dir = join(work, 'layers');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors([]));
    const engine = await getEngine();
    expect(await cpuTimed(() => expect(loadModelWeights(engine, dir)).rejects.toThrow(CheckpointError))).toBeLessThan(2000);
  });
});

describe('PNG', () => {
  /** A PNG from chunks, CRCs computed. */
  function pngOf(chunks: readonly [string, Uint8Array][]): Uint8Array {
    const parts: number[] = [137, 80, 78, 71, 13, 10, 26, 10];
    for (const [type, body] of chunks) {
      const typed = [...[...type].map((c) => c.charCodeAt(0)), ...body];
      const crc = crc32(Uint8Array.from(typed));
      const length = body.byteLength;
      parts.push(length >>> 24, (length >>> 16) & 255, (length >>> 8) & 255, length & 255, ...typed, crc >>> 24, (crc >>> 16) & 255, (crc >>> 8) & 255, crc & 255);
    }
    return Uint8Array.from(parts);
  }
  const ihdr = (width: number, height: number, depth: number, colour: number): [string, Uint8Array] => {
    const body = new Uint8Array(13);
    new DataView(body.buffer).setUint32(0, width);
    new DataView(body.buffer).setUint32(4, height);
    body.set([depth, colour, 0, 0, 0], 8);
    return ['IHDR', body];
  };
  const end: [string, Uint8Array] = ['IEND', new Uint8Array(0)];

  it('our PNG builder makes files decodePNG reads', () => {
    const rgba = pngOf([ihdr(1, 1, 8, 6), ['IDAT', zlibSync(new Uint8Array([0, 1, 2, 3, 4]))], end]);
    expect([...decodePNG(rgba).data]).toEqual([1, 2, 3, 4]);
  });

  it('a decompression bomb (64 MiB of zeros behind a 1x1 header) is refused after inflating at most a step', () => {
    const bomb = pngOf([ihdr(1, 1, 8, 6), ['IDAT', zlibSync(new Uint8Array(64 * 1024 * 1024), { level: 9 })], end]);
    expect(bomb.byteLength).toBeLessThan(100_000);
    const before = process.memoryUsage().arrayBuffers;
    expect(() => decodePNG(bomb, 'bomb')).toThrow(/^bomb: is not a readable PNG file \(the image data inflates past the 5 bytes a 1x1 image holds\)/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
  });

  it('a compressed colour profile (iCCP) bomb never reaches the decoder', () => {
    const profile = new Uint8Array([...new TextEncoder().encode('icc'), 0, 0, ...zlibSync(new Uint8Array(64 * 1024 * 1024), { level: 9 })]);
    const file = pngOf([ihdr(1, 1, 8, 6), ['iCCP', profile], ['IDAT', zlibSync(new Uint8Array([0, 1, 2, 3, 4]))], end]);
    const before = process.memoryUsage().arrayBuffers;
    expect([...decodePNG(file).data]).toEqual([1, 2, 3, 4]);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
  });

  it('a header claiming 2^31-1 x 2^31-1 pixels is refused before anything is allocated', () => {
    const huge = pngOf([ihdr(2 ** 31 - 1, 2 ** 31 - 1, 8, 6), ['IDAT', zlibSync(new Uint8Array(5))], end]);
    expect(() => decodePNG(huge, 'huge')).toThrow(/^huge: is 2147483647x2147483647 pixels, more than the 67108864 accepted/);
    expect(() => decodePNG(pngOf([ihdr(300, 300, 8, 6), ['IDAT', zlibSync(new Uint8Array(5))], end]), 'big', { maxPixels: 256 * 256 })).toThrow(/more than the 65536 accepted/);
  });

  it('a palette index past the palette is an ArgumentError (fast-png threw a plain Error)', () => {
    const file = pngOf([ihdr(2, 1, 8, 3), ['PLTE', new Uint8Array([1, 2, 3, 4, 5, 6])], ['IDAT', zlibSync(new Uint8Array([0, 0, 7]))], end]);
    expect(() => decodePNG(file, 'indexed')).toThrow(ArgumentError);
    expect(() => decodePNG(file, 'indexed')).toThrow(/Incorrect index of palette color/);
  });

  it('image data that ends early is refused (it decoded as a silently black bottom)', () => {
    const short = pngOf([ihdr(4, 4, 8, 6), ['IDAT', zlibSync(new Uint8Array(2 * (1 + 16)))], end]); // two rows of four
    expect(() => decodePNG(short, 'short')).toThrow(/the image data holds 34 bytes, a 4x4 image needs 68 \(truncated\?\)/);
  });

  it('a corrupt chunk (bad CRC) is refused', () => {
    const image = encode({ width: 2, height: 2, data: new Uint8Array(16).fill(9), channels: 4, depth: 8 }).slice();
    image[image.byteLength - 20]! ^= 1; // inside the IDAT data
    expect(() => decodePNG(image, 'flipped')).toThrow(/fails its CRC check/);
  });
});
