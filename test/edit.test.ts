// Editing on a real tiny MaskGIT: inpaint, outpaint and editBox keep every token outside their
// masks, and blend pixels as specified; the blend masks (nearest upsampling, Gaussian blur of
// standard deviation S/16 - 1) are checked against an independent host computation (a direct
// 2-D convolution written here).
import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  editBox,
  gaussianBlur,
  inpaint,
  latentBox,
  outpaint,
  rgbaToRGBFloat,
  rgbFloatToRGBA,
  tokenMaskFromPixels,
  type OutpaintSide,
  type RGBAImage,
} from '../src/node.js';
import { getEngine } from './helpers/engine.js';
import { rng } from './helpers/random.js';
import { tinyConfig, tinyModel, type TinyModel } from './helpers/tiny-maskgit.js';

const GREEDY = { sampleTemperature: 0, choiceTemperature: 0 } as const;

/** A test picture: gradients, a disc and stripes, so that encoded tokens vary. */
function picture(width: number, height: number, seed = 1): RGBAImage {
  const r = rng(seed);
  const [cx, cy, radius] = [width * (0.3 + 0.4 * r()), height * (0.3 + 0.4 * r()), Math.min(width, height) * 0.25];
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inDisc = (x - cx) ** 2 + (y - cy) ** 2 < radius * radius;
      const at = (y * width + x) * 4;
      data[at] = inDisc ? 230 : Math.round((255 * x) / width);
      data[at + 1] = inDisc ? 40 : Math.round((255 * y) / height);
      data[at + 2] = (x + 2 * y) % 11 < 4 ? 200 : 30;
      data[at + 3] = 255;
    }
  }
  return { width, height, data };
}

/** Direct 2-D convolution with the sampled, normalised Gaussian of std sigma, truncated at 3 sigma, edges extended. */
function blur2d(values: Float32Array, width: number, height: number, sigma: number): Float64Array {
  const out = new Float64Array(width * height);
  if (sigma === 0) return Float64Array.from(values);
  const r = Math.ceil(3 * sigma);
  let total = 0;
  for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) total += Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let dy = -r; dy <= r; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          const v = values[Math.min(height - 1, Math.max(0, y + dy)) * width + Math.min(width - 1, Math.max(0, x + dx))]!;
          s += v * Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
        }
      }
      out[y * width + x] = s / total;
    }
  }
  return out;
}

/** Token mask (g x g) to pixels, written here independently: pixel (x, y) takes token (y / f, x / f). */
function tokensToPixels(mask: Uint8Array, g: number, f: number): Float32Array {
  const S = g * f;
  return Float32Array.from({ length: S * S }, (_, p) => mask[Math.floor(Math.floor(p / S) / f) * g + Math.floor((p % S) / f)]!);
}

/** The blend computed on the host from the tokens decoded again (the same GPU decode, hence the same floats). */
async function hostBlend(model: TinyModel, tokens: Int32Array, input: RGBAImage, m: ArrayLike<number>): Promise<RGBAImage> {
  const S = model.config.imageSize;
  const decoded = model.tokenizer.decode(model.engine.tensor(tokens, [1, tokens.length], 'i32'));
  const generated = await decoded.read();
  decoded.dispose();
  const inputFloat = rgbaToRGBFloat(input);
  const out = new Float32Array(S * S * 3);
  for (let p = 0; p < S * S; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = generated[p * 3 + c]! * m[p]! + inputFloat[p * 3 + c]! * (1 - m[p]!);
  return rgbFloatToRGBA(out, S, S);
}

/** Asserts two RGBA images agree: at most 1 level apart (8-bit rounding of nearly equal floats), nearly all exactly. */
function expectSameImage(actual: RGBAImage, expected: RGBAImage, what: string): void {
  let worst = 0;
  let differing = 0;
  for (let i = 0; i < actual.data.length; i++) {
    const d = Math.abs(actual.data[i]! - expected.data[i]!);
    worst = Math.max(worst, d);
    if (d) differing++;
  }
  expect(worst, `${what}: largest difference`).toBeLessThanOrEqual(1);
  expect(differing, `${what}: values that differ`).toBeLessThan(actual.data.length / 200);
}

function expectTokensKept(inputTokens: Int32Array, mask: Uint8Array, tokens: Int32Array, what: string): void {
  let kept = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]) continue;
    expect(tokens[i], `${what}: token ${i}`).toBe(inputTokens[i]);
    kept++;
  }
  expect(kept, `${what}: tokens outside the mask`).toBeGreaterThan(0);
}

describe('blend masks (host)', () => {
  it('gaussianBlur equals a direct 2-D convolution (sigma 0, 0.6, 1, 3, 15), edges extended', () => {
    for (const [sigma, w, h] of [[0, 9, 7], [0.6, 13, 17], [1, 32, 32], [3, 64, 40], [15, 70, 96]] as const) {
      const r = rng(w + h);
      const mask = Float32Array.from({ length: w * h }, () => (r() < 0.3 ? 1 : 0));
      const got = gaussianBlur(mask, w, h, sigma);
      const want = blur2d(mask, w, h, sigma);
      // Separable f32 sums vs a direct f64 sum of the same weights: a few f32 ulps of values <= 1.
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      expect(worst, `sigma ${sigma}`).toBeLessThan(2e-6);
    }
  });

  it('the blur reaches exactly ceil(3 sigma) pixels past a box and no further', () => {
    const [w, h, sigma] = [64, 64, 3];
    const mask = new Float32Array(w * h);
    for (let y = 24; y < 40; y++) mask.fill(1, y * w + 24, y * w + 40);
    const m = gaussianBlur(mask, w, h, sigma);
    expect(m[32 * w + 40 + 8]!).toBeGreaterThan(0); // 9 pixels right of the box's last column (x = 39)
    expect(m[32 * w + 40 + 9]!).toBe(0);
    expect(m[32 * w + 24 - 9]!).toBeGreaterThan(0);
    expect(m[32 * w + 24 - 10]!).toBe(0);
  });

  it('a token is regenerated when any of its pixels is masked; the latent box is the official one, dilated by a token', () => {
    const pixels = new Uint8Array(16 * 16);
    pixels[5 * 16 + 9] = 1; // token (1, 2) of a 4x4 grid of 4x4-pixel tokens
    pixels[15 * 16 + 0] = 1; // token (3, 0)
    expect([...tokenMaskFromPixels(pixels, 16, 16, 4)]).toEqual([0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    // Box edges on the 16-pixel grid: the official arithmetic (floor(h/16) + floor(top/16) + 1, ...).
    for (const box of [{ top: 64, left: 32, height: 128, width: 144 }, { top: 0, left: 0, height: 256, width: 256 }, { top: 128, left: 64, height: 16, width: 48 }]) {
      const official = {
        top: Math.max(0, Math.floor(box.top / 16) - 1),
        left: Math.max(0, Math.floor(box.left / 16) - 1),
        bottom: Math.min(16, Math.floor(box.height / 16) + Math.floor(box.top / 16) + 1),
        right: Math.min(16, Math.floor(box.left / 16) + Math.floor(box.width / 16) + 1),
      };
      expect(latentBox(box, 16, 16, 16)).toEqual(official);
    }
    // Off the grid: every token the box touches, plus one.
    expect(latentBox({ top: 10, left: 3, height: 30, width: 1 }, 16, 16, 16)).toEqual({ top: 0, left: 0, bottom: 4, right: 2 });
  });
});

describe('inpaint', () => {
  it('keeps every token outside the mask; masked pixels are generated, far ones the input exactly; the blend matches the host', async () => {
    const engine = await getEngine();
    const model = tinyModel(engine, tinyConfig({ imageSize: 32 }), 11); // f = 4, 8x8 tokens, blur sigma 1
    const image = picture(32, 32, 2);
    const mask = new Uint8Array(32 * 32);
    for (let y = 9; y < 19; y++) for (let x = 13; x < 26; x++) if ((x - 19) ** 2 + (y - 14) ** 2 < 30) mask[y * 32 + x] = 1;
    const result = await inpaint(model, image, { width: 32, height: 32, data: mask }, { class: 4, seed: 3, batch: 2 });
    // The token mask: any masked pixel (written here with per-token loops).
    const expectedTokens = new Uint8Array(64);
    for (let t = 0; t < 64; t++) for (let p = 0; p < 16; p++) if (mask[(Math.floor(t / 8) * 4 + Math.floor(p / 4)) * 32 + (t % 8) * 4 + (p % 4)]) expectedTokens[t] = 1;
    expect([...result.tokenMask]).toEqual([...expectedTokens]);
    expect(result.images).toHaveLength(2);
    expect(new Set(result.inputTokens).size, 'the picture encodes to several codes').toBeGreaterThan(4);
    const blurred = blur2d(tokensToPixels(result.tokenMask, 8, 4), 32, 32, 1);
    const m = Float64Array.from(blurred, (v, p) => Math.max(v, mask[p]!));
    for (let b = 0; b < 2; b++) {
      expectTokensKept(result.inputTokens, result.tokenMask, result.tokens[b]!, `image ${b}`);
      const expected = await hostBlend(model, result.tokens[b]!, image, m);
      expectSameImage(result.images[b]!, expected, `image ${b}`);
      for (let p = 0; p < 32 * 32; p++) {
        const got = [...result.images[b]!.data.subarray(p * 4, p * 4 + 4)];
        if (m[p] === 0) expect(got, `pixel ${p} (m = 0) is the input's`).toEqual([...image.data.subarray(p * 4, p * 4 + 4)]);
        if (mask[p]) expect(got, `pixel ${p} (masked) is generated`).toEqual([...expected.data.subarray(p * 4, p * 4 + 4)]);
      }
    }
    expect([...result.blendMask].every((v, p) => Math.abs(v - m[p]!) < 2e-6)).toBe(true);
    // The variants differ (different seeds) where they were regenerated.
    expect([...result.tokens[0]!]).not.toEqual([...result.tokens[1]!]);
    model.dispose();
  });

  it('refuses an image of another size and a mask of another size or that masks nothing', async () => {
    const engine = await getEngine();
    const model = tinyModel(engine, tinyConfig({ imageSize: 32 }), 11);
    const image = picture(32, 32);
    const white = { width: 32, height: 32, data: new Uint8Array(32 * 32).fill(1) };
    await expect(inpaint(model, picture(48, 32), white, { class: 1 })).rejects.toThrow(/image: is 48x32 pixels; this model takes 32x32 images/);
    await expect(inpaint(model, image, { width: 16, height: 16, data: new Uint8Array(256) }, { class: 1 })).rejects.toThrow(/mask: is 16x16 pixels but the image is 32x32/);
    await expect(inpaint(model, image, { width: 32, height: 32, data: new Uint8Array(1024) }, { class: 1 })).rejects.toThrow(ArgumentError);
    await expect(inpaint(model, image, white, { class: 10 })).rejects.toThrow(/class: class labels must be integers in \[0, 10\)/);
    model.dispose();
  });
});

describe('editBox', () => {
  it('the official recipe: latent box dilated by one token, target class, blend with the box blurred by S/16 - 1', async () => {
    const engine = await getEngine();
    const model = tinyModel(engine, tinyConfig({ imageSize: 64, multipliers: [1, 1, 1, 1] }), 12); // f = 8, 8x8 tokens, sigma 3
    const image = picture(64, 64, 5);
    const box = { top: 20, left: 12, height: 20, width: 30 };
    const result = await editBox(model, image, box, 7, { seed: 9, ...GREEDY });
    // Rows 1..5 and columns 0..6 of the 8x8 grid (covering pixels 8..47 x 0..55).
    const expectedMask = Uint8Array.from({ length: 64 }, (_, t) => (Math.floor(t / 8) >= 1 && Math.floor(t / 8) < 6 && t % 8 < 7 ? 1 : 0));
    expect([...result.tokenMask]).toEqual([...expectedMask]);
    expectTokensKept(result.inputTokens, result.tokenMask, result.tokens[0]!, 'editBox');
    const m = blur2d(tokensToPixels(expectedMask, 8, 8), 64, 64, 3);
    expect([...result.blendMask].every((v, p) => Math.abs(v - m[p]!) < 2e-6), 'blend mask = box blurred with sigma 3').toBe(true);
    // The blur radius matters: sigma 2 or 4 would be told apart.
    for (const other of [2, 4]) {
      const alt = blur2d(tokensToPixels(expectedMask, 8, 8), 64, 64, other);
      expect(Math.max(...alt.map((v, p) => Math.abs(v - result.blendMask[p]!)))).toBeGreaterThan(1e-2);
    }
    expectSameImage(result.images[0]!, await hostBlend(model, result.tokens[0]!, image, m), 'editBox');
    // Far from the box (m = 0) the input is kept exactly; inside it the blend is mostly generated.
    expect([...result.images[0]!.data.subarray((63 * 64 + 63) * 4, (63 * 64 + 64) * 4)]).toEqual([...image.data.subarray((63 * 64 + 63) * 4, (63 * 64 + 64) * 4)]);
    expect(result.blendMask[28 * 64 + 24]!).toBeGreaterThan(0.99);
    // Another target class changes the edit.
    const other = await editBox(model, image, box, 2, { seed: 9, ...GREEDY });
    expect([...other.tokens[0]!]).not.toEqual([...result.tokens[0]!]);
    await expect(editBox(model, image, { top: 60, left: 0, height: 8, width: 4 }, 1)).rejects.toThrow(/box: rows 60..67, columns 0..3 reach outside the 64x64 image/);
    await expect(editBox(model, image, { top: 0, left: 0, height: 0, width: 4 }, 1)).rejects.toThrow(/box: height must be an integer >= 1/);
    model.dispose();
  });
});

describe('outpaint', () => {
  const sides: OutpaintSide[] = ['right', 'left', 'bottom', 'top'];
  for (const side of sides) {
    it(`${side}: windows of the model's size overlapping the known content; their known tokens kept; the input kept away from the seam`, async () => {
      const engine = await getEngine();
      const model = tinyModel(engine, tinyConfig({ imageSize: 32 }), 13); // f = 4, 8x8 tokens, sigma 1
      const image = picture(32, 32, 8);
      const amount = 38; // windows adding 16, 16, then 6 of 8 generated pixels
      const result = await outpaint(model, image, { side, amount, class: 3, seed: 4, batch: 2 });
      const horizontal = side === 'left' || side === 'right';
      const [W, H] = horizontal ? [32 + amount, 32] : [32, 32 + amount];
      for (const out of result.images) expect([out.width, out.height]).toEqual([W, H]);
      expect(result.windows).toHaveLength(3);
      result.windows.forEach((window, w) => {
        const k = w < 2 ? 4 : 2; // new token columns (rows) in this window
        const newCount = [...window.tokenMask].filter(Boolean).length;
        expect(newCount, `window ${w}`).toBe(8 * k);
        for (let b = 0; b < 2; b++) expectTokensKept(window.inputTokens[b]!, window.tokenMask, window.tokens[b]!, `window ${w}, image ${b}`);
        // Windows are model-sized and each overlaps what existed by 32 - 4k pixels.
        expect([window.box.width, window.box.height]).toEqual([32, 32]);
      });
      // Where each window lies in the output (the input is at [0, 32) growing right/down, at [38, 70) growing left/up):
      // known parts of 16, 16 and 24 pixels at the edge, then 16, 16 and 8 new ones (the last
      // window's 2 pixels past the output are cropped).
      const along = result.windows.map((win) => (horizontal ? win.box.left : win.box.top));
      expect(along).toEqual(side === 'right' || side === 'bottom' ? [16, 32, 40] : [22, 6, -2]);
      // The input is kept exactly more than 3 sigma (3 px) from the first seam.
      const [ix, iy] = side === 'left' ? [amount, 0] : side === 'top' ? [0, amount] : [0, 0];
      for (const out of result.images) {
        for (let y = 0; y < 32; y++) {
          for (let x = 0; x < 32; x++) {
            const distance = side === 'right' ? 31 - x : side === 'left' ? x : side === 'bottom' ? 31 - y : y;
            if (distance < 3) continue;
            const got = out.data.subarray(((y + iy) * W + x + ix) * 4, ((y + iy) * W + x + ix) * 4 + 4);
            expect([...got], `input pixel (${x}, ${y})`).toEqual([...image.data.subarray((y * 32 + x) * 4, (y * 32 + x) * 4 + 4)]);
          }
        }
      }
      // Image i of the batch equals a single run with seed + i (window seeds derive from each image's seed).
      const single = await outpaint(model, image, { side, amount, class: 3, seed: 5 });
      expect(Buffer.compare(single.images[0]!.data, result.images[1]!.data)).toBe(0);
      model.dispose();
    });
  }

  it('the last window generated at the far edge: its new pixels are its decode', async () => {
    const engine = await getEngine();
    const model = tinyModel(engine, tinyConfig({ imageSize: 32 }), 14);
    const image = picture(32, 32, 9);
    const result = await outpaint(model, image, { side: 'right', amount: 16, class: 1, ...GREEDY });
    expect(result.windows).toHaveLength(1);
    const [window] = result.windows;
    const decoded = model.tokenizer.decode(engine.tensor(window!.tokens[0]!, [1, 64], 'i32'));
    const window8 = rgbFloatToRGBA(await decoded.read(), 32, 32);
    decoded.dispose();
    const out = result.images[0]!;
    for (let y = 0; y < 32; y++) {
      for (let x = 32; x < 48; x++) {
        expect([...out.data.subarray((y * 48 + x) * 4, (y * 48 + x + 1) * 4)]).toEqual([...window8.data.subarray((y * 32 + x - 16) * 4, (y * 32 + x - 15) * 4)]);
      }
    }
    model.dispose();
  });

  it('refuses images of the wrong size across the side or too short along it, and bad amounts', async () => {
    const engine = await getEngine();
    const model = tinyModel(engine, tinyConfig({ imageSize: 32 }), 13);
    await expect(outpaint(model, picture(32, 40), { side: 'right', amount: 8, class: 1 })).rejects.toThrow(/needs a height of 32 and a width of at least 16/);
    await expect(outpaint(model, picture(12, 32), { side: 'left', amount: 8, class: 1 })).rejects.toThrow(/needs a height of 32 and a width of at least 16/);
    await expect(outpaint(model, picture(32, 32), { side: 'up' as never, amount: 8, class: 1 })).rejects.toThrow(/side: must be "left", "right", "top", "bottom"/);
    await expect(outpaint(model, picture(32, 32), { side: 'top', amount: 0, class: 1 })).rejects.toThrow(/amount: must be an integer in \[1, 1024\]/);
    // A canvas longer than the model along the side is fine: windows take its edge.
    const wide = await outpaint(model, picture(20, 32), { side: 'right', amount: 4, class: 1 });
    expect([wide.images[0]!.width, wide.images[0]!.height]).toEqual([24, 32]);
    model.dispose();
  });
});
