// The demo page in real Chromium (Debian's /usr/bin/chromium, headless, WebGPU on SwiftShader),
// driven by playwright-core: it loads the model, generates an image, and the test checks it
// against Node running the same model on the same kind of adapter (Dawn over Chromium's own
// SwiftShader, through VK_ICD_FILENAMES).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { buildWeb, serveWeb } from '../scripts/web.mjs';
import { defaultBlurRadius, encodePNG, latentBox, latentSize, philox4x32, tokenMaskFromPixels, writeModelFolder } from '../src/node.js';
import { childScript, runChild } from './helpers/child.js';
import { CHROMIUM, CHROMIUM_ARGS, SWIFTSHADER_ICD, launchChromium } from './helpers/chromium.js';
import { tinyConfig, tinyTensors } from './helpers/tiny-maskgit.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

const root = resolve(__dirname, '..');
const artifacts = join(root, 'test-artifacts');
/** The committed model when it is complete, else a tiny random one written for the test. */
const TRAINED = join(root, 'models', 'emoji-32');
const trainedComplete = existsSync(join(TRAINED, 'config.json')) && JSON.parse(readFileSync(join(TRAINED, 'config.json'), 'utf8')).contents?.includes('transformer');


let server: Server;
let browser: Browser;
let base = '';
let modelsDir = '';
let modelName = '';
const work = mkdtempSync(join(tmpdir(), 'maskgit-browser-'));
const requests: string[] = [];

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: sh scripts/setup-webgpu.sh --chromium installs it`).toBe(true);
  await buildWeb();
  if (trainedComplete) {
    modelsDir = join(root, 'models');
    modelName = 'emoji-32';
  } else {
    modelsDir = join(work, 'models');
    modelName = 'tiny';
    const config = tinyConfig({ classes: 4, nullClass: 3 });
    await writeModelFolder(join(modelsDir, modelName), { ...config, classNames: ['red', 'green', 'blue', 'none'] }, tinyTensors(config, 5));
  }
  server = await serveWeb({ port: 0, modelsDir, onRequest: (path: string) => requests.push(path) });
  const address = server.address() as { port: number };
  base = `http://127.0.0.1:${address.port}/`;
  browser = await launchChromium();
}, HANG_GUARD_MS);

afterAll(async () => {
  await browser?.close();
  server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('the demo page in Chromium', () => {
  it('generates an image whose tokens, random stream and pixels agree with Node', { timeout: HANG_GUARD_MS }, async () => {
    // One context (one profile's storage) for both visits, so the second can hit the Cache API.
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    const logs: string[] = [];
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    await page.goto(`${base}?model=/models/${modelName}/`);
    await page.evaluate(() => window.maskgitApp.ready).catch((error) => {
      throw new Error(`the page did not start: ${String(error)}\n${logs.join('\n')}`);
    });
    const adapter = await page.evaluate(() => window.maskgitApp.engine!.info.description || window.maskgitApp.engine!.info.architecture);
    expect(adapter.toLowerCase()).toContain('swiftshader');

    // 1. The random stream is bit-identical to the TypeScript mirror (and so to Node's GPU stream).
    const bitsRequest = { seed: 1234, purpose: 0, positions: 3, length: 257 };
    const pageBits = await page.evaluate((r) => window.maskgitApp.randomBits(r.seed, r.purpose, r.positions, r.length), bitsRequest);
    const mirror: number[] = [];
    for (let p = 0; p < bitsRequest.positions; p++) {
      for (let i = 0; i < bitsRequest.length; i++) {
        const block = philox4x32(Math.floor(i / 4), p, 0, 0, bitsRequest.seed, bitsRequest.purpose);
        mirror.push(block[i % 4]!);
      }
    }
    expect(pageBits).toEqual(mirror);

    // 2. Generate through the page's own controls path.
    const request = { classLabel: 1, seed: 7, steps: 8, guidance: 4 };
    const generated = await page.evaluate((r) => window.maskgitApp.runGenerate(r), request);
    const canvas = Uint8Array.from(await page.evaluate(() => window.maskgitApp.canvasPixels()));
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'browser-generate.png') });
    const side = Math.sqrt(canvas.length / 4);
    writeFileSync(join(artifacts, 'browser-canvas.png'), encodePNG({ width: side, height: side, data: canvas }));

    // 3. Node on the same kind of adapter: the same tokens, and the page's canvas equals the
    // decoding of the page's tokens.
    const node = await runChild(
      await childScript('browser-reference'),
      [join(modelsDir, modelName), JSON.stringify({ ...request, browserTokens: generated.tokens, bits: bitsRequest })],
      { timeoutMs: HANG_GUARD_MS, env: { VK_ICD_FILENAMES: SWIFTSHADER_ICD } },
    );
    expect(node.code, node.stderr.slice(-2000)).toBe(0);
    const reference = node.results[0] as { adapter: string; tokens: number[]; decodedBrowserTokens: number[]; bits: number[] };
    expect(reference.adapter.toLowerCase()).toContain('swiftshader');
    expect(reference.bits).toEqual(pageBits);
    expect(generated.tokens).toEqual(reference.tokens);
    // The canvas shows the decoder's output as 8-bit RGBA: both sides round the same floats,
    // so pixels may differ by one step where a value sits on a rounding boundary.
    let worst = 0;
    for (let i = 0; i < canvas.length; i++) worst = Math.max(worst, Math.abs(canvas[i]! - reference.decodedBrowserTokens[i]!));
    expect(worst).toBeLessThanOrEqual(1);
    await page.close();

    // 4. A second visit loads the weights from the Cache API: the server is not asked again.
    const weightsFetches = () => requests.filter((p) => p.endsWith('/model.safetensors')).length;
    expect(weightsFetches()).toBe(1);
    const again = await context.newPage();
    await again.goto(`${base}?model=/models/${modelName}/`);
    await again.evaluate(() => window.maskgitApp.ready);
    expect(weightsFetches()).toBe(1);
    await context.close();
  });

  it('inpaints a painted mask, edits a drawn box and outpaints, through the page controls: the tokens kept are the source\'s, the masked ones regenerated', { timeout: HANG_GUARD_MS }, async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    await page.goto(`${base}?model=/models/${modelName}/`);
    await page.evaluate(() => window.maskgitApp.ready);
    await page.evaluate(() => window.maskgitApp.runGenerate({ classLabel: 0, seed: 3, steps: 4 }));
    const model = await page.evaluate(() => window.maskgitApp.model!.config);
    const S = model.imageSize;
    const g = latentSize(model);
    const f = S / g;
    const overlay = (await page.locator('#overlay').boundingBox())!;
    const at = (fx: number, fy: number) => [overlay.x + fx * overlay.width, overlay.y + fy * overlay.height] as const;
    const status = () => page.textContent('#status');
    const canvas = async () => {
      const [width, height] = await page.evaluate(() => [document.querySelector<HTMLCanvasElement>('#image')!.width, document.querySelector<HTMLCanvasElement>('#image')!.height]);
      return { width, height, data: await page.evaluate(() => window.maskgitApp.canvasPixels()) };
    };
    const encode = (image: { width: number; height: number; data: number[] }) => page.evaluate((i) => window.maskgitApp.encode(i), image);
    const lastEdit = async () => (await page.evaluate(() => window.maskgitApp.lastEdit))!;
    const isCode = (t: number) => Number.isInteger(t) && t >= 0 && t < model.codebookSize;
    /** Tokens outside `mask` equal the source's; inside, codes, some of them new. Returns how many changed. */
    const keptAndRegenerated = (what: string, source: number[], tokens: number[], mask: number[]) => {
      expect(tokens, what).toHaveLength(source.length);
      let changed = 0;
      for (let i = 0; i < tokens.length; i++) {
        if (!mask[i]) expect(tokens[i], `${what}: token ${i} is outside the mask`).toBe(source[i]);
        else {
          expect(isCode(tokens[i]!), `${what}: token ${i} (${tokens[i]}) is a code of the codebook`).toBe(true);
          if (tokens[i] !== source[i]) changed++;
        }
      }
      expect(changed, `${what}: regenerated tokens that differ from the source's`).toBeGreaterThan(0);
      return changed;
    };
    /** Pixels the blend gives no weight to are the source's, exactly. */
    const pixelsKept = (what: string, before: number[], after: number[], blend: number[]) => {
      let kept = 0;
      for (let p = 0; p < blend.length; p++) {
        if (blend[p] !== 0) continue;
        kept++;
        expect(after.slice(p * 4, p * 4 + 3), `${what}: pixel ${p} has no blend weight`).toEqual(before.slice(p * 4, p * 4 + 3));
      }
      expect(kept, `${what}: pixels outside the blend`).toBeGreaterThan(0);
    };

    // 1. Inpaint a stroke painted across the middle.
    const generated = await canvas();
    const generatedTokens = await encode(generated);
    await page.mouse.move(...at(0.3, 0.5));
    await page.mouse.down();
    await page.mouse.move(...at(0.7, 0.5), { steps: 8 });
    await page.mouse.up();
    await page.fill('#steps-count', '4');
    await page.click('#inpaint');
    await page.waitForFunction(() => /Inpainted|failed/.test(document.getElementById('status')!.textContent ?? ''), null, { timeout: HANG_GUARD_MS });
    expect(await status()).toMatch(/^Inpainted in/);
    const inpaint = await lastEdit();
    expect(inpaint.kind).toBe('inpaint');
    expect(inpaint.source.data).toEqual(generated.data);
    expect(inpaint.inputTokens, 'the edit starts from the tokens of the image shown').toEqual(generatedTokens);
    const painted = inpaint.pixelMask!;
    expect(painted.some((v) => v) && painted.some((v) => !v), 'the stroke masks part of the image').toBe(true);
    expect(inpaint.tokenMask).toEqual([...tokenMaskFromPixels(Uint8Array.from(painted), S, S, f)]);
    const inpaintChanged = keptAndRegenerated('inpaint', generatedTokens, inpaint.tokens!, inpaint.tokenMask!);
    const inpainted = await canvas();
    pixelsKept('inpaint', generated.data, inpainted.data, inpaint.blendMask!);
    expect(await page.evaluate(() => [...window.maskgitApp.current!.tokens!])).toEqual(inpaint.tokens);

    // 2. Edit a box drawn in the lower right to another class: only the box's tokens change.
    const editSource = await encode(inpainted);
    await page.check('input[name="tool"][value="box"]');
    await page.mouse.move(...at(0.55, 0.55));
    await page.mouse.down();
    await page.mouse.move(...at(0.9, 0.9), { steps: 5 });
    await page.mouse.up();
    await page.click('#edit');
    await page.waitForFunction(() => /Edited|failed/.test(document.getElementById('status')!.textContent ?? ''), null, { timeout: HANG_GUARD_MS });
    expect(await status()).toMatch(/^Edited in/);
    const edit = await lastEdit();
    expect(edit.kind).toBe('edit');
    expect(edit.inputTokens).toEqual(editSource);
    const lb = latentBox(edit.box!, f, g, g);
    expect(lb.top).toBeGreaterThan(0); // the box is in the lower right: rows and columns outside it exist
    expect(lb.left).toBeGreaterThan(0);
    const boxMask = Array.from({ length: g * g }, (_, i) => (Math.floor(i / g) >= lb.top && Math.floor(i / g) < lb.bottom && i % g >= lb.left && i % g < lb.right ? 1 : 0));
    expect(edit.tokenMask).toEqual(boxMask);
    const editChanged = keptAndRegenerated('edit', editSource, edit.tokens!, boxMask);
    const edited = await canvas();
    pixelsKept('edit', inpainted.data, edited.data, edit.blendMask!);

    // 3. Outpaint 8 pixels to the right: the image grows, the window's known columns keep the source's tokens.
    await page.fill('#amount', '8');
    await page.click('#outpaint');
    await page.waitForFunction(() => /Outpainted|failed/.test(document.getElementById('status')!.textContent ?? ''), null, { timeout: HANG_GUARD_MS });
    expect(await status()).toMatch(/^Outpainted in/);
    const out = await lastEdit();
    const grown = await canvas();
    expect([grown.width, grown.height]).toEqual([S + 8, S]);
    expect(out.kind).toBe('outpaint');
    expect(out.windows).toHaveLength(1);
    const win = out.windows![0]!;
    const k = Math.ceil(8 / f); // new token columns, on the right of the window
    expect(win.tokenMask).toEqual(Array.from({ length: g * g }, (_, i) => (i % g >= g - k ? 1 : 0)));
    expect(win.box).toEqual({ top: 0, left: k * f, height: S, width: S }); // the window's right edge is the new image's
    // The known part: the source's rightmost S - k f columns, encoded on their own.
    const knownWidth = S - k * f;
    const known = { width: knownWidth, height: S, data: [] as number[] };
    for (let y = 0; y < S; y++) known.data.push(...edited.data.slice((y * S + S - knownWidth) * 4, (y * S + S) * 4));
    const knownTokens = await encode(known);
    const gk = knownWidth / f;
    const windowSource = win.tokens.map((_, i) => (i % g < g - k ? knownTokens[Math.floor(i / g) * gk + (i % g)]! : model.maskTokenId));
    expect(win.inputTokens).toEqual(windowSource);
    const outpaintChanged = keptAndRegenerated('outpaint', windowSource, win.tokens, win.tokenMask);
    // The source's pixels away from the seam (3 blur sigmas) are unchanged.
    const seam = win.box.left + (g - k) * f - Math.ceil(3 * defaultBlurRadius(S));
    for (let y = 0; y < S; y++) {
      expect(grown.data.slice(y * (S + 8) * 4, (y * (S + 8) + seam) * 4), `row ${y} left of the seam`).toEqual(edited.data.slice(y * S * 4, (y * S + seam) * 4));
    }
    console.log(`browser edits: inpaint regenerated ${inpaintChanged} of ${inpaint.tokenMask!.filter(Boolean).length} masked tokens with new codes, edit ${editChanged} of ${boxMask.filter(Boolean).length}, outpaint ${outpaintChanged} of ${g * k}`);
    await page.screenshot({ path: join(artifacts, 'browser-edit.png') });
    await page.close();
  });

  it('says clearly when the browser has no WebGPU', { timeout: HANG_GUARD_MS }, async () => {
    const noGpu = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu').concat('--disable-features=WebGPU') });
    try {
      const page = await noGpu.newPage();
      await page.goto(`${base}?model=/models/${modelName}/`);
      await page.waitForSelector('#no-webgpu:not([hidden])', { timeout: HANG_GUARD_MS });
      expect(await page.textContent('#no-webgpu h2')).toContain('no WebGPU');
    } finally {
      await noGpu.close();
    }
  });
});
