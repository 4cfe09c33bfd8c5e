// Fuzzing decodePNG (mutations in helpers/png-mutations.ts): every case decodes to
// width x height x 4 bytes or throws ArgumentError, in bounded time and memory. And masks as
// users give them to inpaint (a PNG file, decoded, then the edit on a tiny real MaskGIT): every
// case inpaints, keeping every token outside the mask, or throws ArgumentError; the GPU
// pool is back at its baseline after each case.
import { encode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../src/errors.js';
import { decodePNG } from '../src/io/png.js';
import { inpaint } from '../src/node.js';
import { getEngine } from './helpers/engine.js';
import { fuzz, fuzzRuns } from './helpers/fuzz.js';
import { caseSpec, imageSpec, makePNG, maskCaseSpec, mutated } from './helpers/png-mutations.js';
import { tinyConfig, tinyModel } from './helpers/tiny-maskgit.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

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

  it('mutated PNG masks given to inpaint: the edit keeps every unmasked token, or ArgumentError; GPU memory back at its baseline', async () => {
    const engine = await getEngine();
    const model = tinyModel(engine, tinyConfig());
    const S = model.config.imageSize;
    const image = { width: S, height: S, data: Uint8Array.from({ length: S * S * 4 }, (_, i) => (i % 4 === 3 ? 255 : (i * 29) & 255)) };
    await engine.sync();
    const baseline = engine.stats().pool.bytesInUse;
    const report = await fuzz(
      'png-mask',
      { arbitrary: maskCaseSpec(S), prepare: mutated },
      async (png) => {
        const mask = decodePNG(png, 'mask', { maxPixels: 1 << 20 });
        const out = await inpaint(model, image, mask, { class: 1, steps: 2 });
        expect(out.images.map((i) => [i.width, i.height])).toEqual([[S, S]]);
        expect(out.tokenMask.includes(1)).toBe(true);
        out.tokenMask.forEach((m, t) => {
          if (!m) expect(out.tokens[0]![t], `token ${t} is outside the mask`).toBe(out.inputTokens[t]);
        });
      },
      {
        runs: fuzzRuns(300),
        allowed: [ArgumentError],
        after: async () => {
          await engine.sync();
          expect(engine.stats().pool.bytesInUse).toBe(baseline);
        },
      },
    );
    // Both outcomes are exercised: masks that inpaint, and masks refused (undecodable, the wrong size, masking nothing).
    expect(report.accepted).toBeGreaterThan(report.cases * 0.1);
    expect(report.rejected.ArgumentError ?? 0).toBeGreaterThan(report.cases * 0.1);
    model.dispose();
  }, HANG_GUARD_MS);
});
