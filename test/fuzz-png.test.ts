// Fuzzing decodePNG (mutations in helpers/png-mutations.ts): every case decodes to
// width x height x 4 bytes or throws ArgumentError, in bounded time and memory.
import { encode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../src/errors.js';
import { decodePNG } from '../src/io/png.js';
import { fuzz, fuzzRuns } from './helpers/fuzz.js';
import { caseSpec, imageSpec, makePNG, mutated } from './helpers/png-mutations.js';

function checkDecoded(image: { width: number; height: number; data: Uint8Array }): void {
  expect(Number.isSafeInteger(image.width) && image.width > 0).toBe(true);
  expect(Number.isSafeInteger(image.height) && image.height > 0).toBe(true);
  expect(image.data.byteLength).toBe(image.width * image.height * 4);
}

describe('fuzz: PNG', () => {
  it('mutated PNGs decode to RGBA or throw ArgumentError, within bounded time and memory', async () => {
    const report = await fuzz('png', { arbitrary: caseSpec, prepare: mutated }, (png) => checkDecoded(decodePNG(png, 'fuzz', { maxPixels: 1 << 20 })), {
      runs: fuzzRuns(5000),
      allowed: [ArgumentError],
    });
    expect(report.accepted).toBeGreaterThan(report.cases * 0.1);
    expect(report.rejected.ArgumentError ?? 0).toBeGreaterThan(report.cases * 0.3);
  });

  it('valid PNGs of every colour type and depth decode to their pixels', async () => {
    await fuzz(
      'png-valid',
      imageSpec,
      (s) => {
        const image = decodePNG(makePNG(s));
        checkDecoded(image);
        expect([image.width, image.height]).toEqual([s.width, s.height]);
        // RGBA round trip: what encodePNG writes decodes to the same bytes.
        expect(Buffer.compare(decodePNG(encode({ ...image, channels: 4, depth: 8 })).data, image.data)).toBe(0);
      },
      { runs: fuzzRuns(300), allowed: [] },
    );
  });
});
