import { encode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../src/errors.js';
import { boxDownsample, loadEmojiDataset } from '../src/io/emoji.js';
import { decodePNG, encodePNG, imageGrid, rgbaToRGBFloat, rgbFloatToRGBA } from '../src/io/png.js';

describe('PNG in and out', () => {
  it('decodes grey, grey+alpha, RGB, RGBA and 16-bit PNGs to 8-bit RGBA', () => {
    const grey = decodePNG(encode({ width: 2, height: 1, data: new Uint8Array([0, 200]), channels: 1, depth: 8 }));
    expect([...grey.data]).toEqual([0, 0, 0, 255, 200, 200, 200, 255]);
    const ga = decodePNG(encode({ width: 1, height: 1, data: new Uint8Array([50, 128]), channels: 2, depth: 8 }));
    expect([...ga.data]).toEqual([50, 50, 50, 128]);
    const rgb = decodePNG(encode({ width: 1, height: 1, data: new Uint8Array([1, 2, 3]), channels: 3, depth: 8 }));
    expect([...rgb.data]).toEqual([1, 2, 3, 255]);
    const deep = decodePNG(encode({ width: 1, height: 1, data: new Uint16Array([65535, 0, 32896, 65535]), channels: 4, depth: 16 }));
    expect([...deep.data]).toEqual([255, 0, 128, 255]);
  });

  it('round-trips RGBA through encodePNG', () => {
    const data = new Uint8Array(3 * 2 * 4).map((_, i) => (i * 37) % 256);
    const back = decodePNG(encodePNG({ width: 3, height: 2, data }));
    expect(back.width).toBe(3);
    expect([...back.data]).toEqual([...data]);
  });

  it('rejects bytes that are not a PNG with an ArgumentError naming the input', () => {
    expect(() => decodePNG(new Uint8Array([1, 2, 3]), 'mask')).toThrow(ArgumentError);
    expect(() => decodePNG(new Uint8Array([1, 2, 3]), 'mask')).toThrow(/^mask: /);
  });

  it('composites over white, converts to floats and back, tiles a grid', () => {
    const half = { width: 1, height: 1, data: new Uint8Array([0, 0, 0, 128]) };
    const f = rgbaToRGBFloat(half);
    expect(f[0]).toBeCloseTo(1 - 128 / 255, 6);
    const rgba = rgbFloatToRGBA(new Float32Array([2, -1, 0.5]), 1, 1);
    expect([...rgba.data]).toEqual([255, 0, 128, 255]);
    const grid = imageGrid([rgba, rgba, rgba], 2, 1);
    expect([grid.width, grid.height]).toEqual([3, 3]);
    expect([...grid.data.subarray(0, 4)]).toEqual([255, 0, 128, 255]);
    expect([...grid.data.subarray(4, 8)]).toEqual([255, 255, 255, 255]); // the gap
  });

  it('box-downsamples by averaging 2x2 blocks', () => {
    const src = new Float32Array(4 * 4 * 3).map((_, i) => Math.floor(i / 3) % 4); // x coordinate per pixel
    const out = boxDownsample(src, 4, 1);
    expect([...out.filter((_, i) => i % 3 === 0)]).toEqual([0.5, 2.5, 0.5, 2.5]);
  });
});

describe('emoji dataset', () => {
  it('loads labelled 32 px images with a deterministic split by emoji', async () => {
    const a = await loadEmojiDataset({ sets: ['twitter'] });
    expect(a.classNames).toHaveLength(9);
    expect(a.classNames[0]).toBe('Smileys & Emotion');
    expect(a.train.images.length).toBe(a.train.count * 32 * 32 * 3);
    expect(a.train.count + a.heldOut.count).toBeGreaterThan(1800);
    const frac = a.heldOut.count / (a.train.count + a.heldOut.count);
    expect(frac).toBeGreaterThan(0.06);
    expect(frac).toBeLessThan(0.14);
    const code = (id: string) => id.slice(id.indexOf('/') + 1);
    const trainCodes = new Set(a.train.ids.map(code));
    expect(a.heldOut.ids.some((id) => trainCodes.has(code(id)))).toBe(false);
    // Every class is present in both parts, and none dominates.
    for (const part of [a.train, a.heldOut]) {
      const counts = new Array(9).fill(0);
      for (const l of part.labels) counts[l]++;
      expect(Math.min(...counts)).toBeGreaterThan(0);
      expect(Math.max(...counts) / part.count).toBeLessThan(0.3);
    }
    // Pixels are in [0, 1] and the images are not blank.
    let min = Infinity;
    let max = -Infinity;
    for (const v of a.train.images.subarray(0, 3072 * 50)) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(max - min).toBeGreaterThan(0.5);
    const b = await loadEmojiDataset({ sets: ['twitter'] });
    expect(b.heldOut.ids).toEqual(a.heldOut.ids);
  });

  it('rejects a size that is not 64 / 2^k', async () => {
    await expect(loadEmojiDataset({ sets: ['twitter'], size: 48 })).rejects.toThrow(ArgumentError);
  });
});
