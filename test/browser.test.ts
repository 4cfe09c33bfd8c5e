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
import { encodePNG, philox4x32, writeModelFolder } from '../src/node.js';
import { childScript, runChild } from './helpers/child.js';
import { tinyConfig, tinyTensors } from './helpers/tiny-maskgit.js';

const root = resolve(__dirname, '..');
const CHROMIUM = '/usr/bin/chromium';
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const artifacts = join(root, 'test-artifacts');
/** The committed model when it is complete, else a tiny random one written for the test. */
const TRAINED = join(root, 'models', 'emoji-32');
const trainedComplete = existsSync(join(TRAINED, 'config.json')) && JSON.parse(readFileSync(join(TRAINED, 'config.json'), 'utf8')).contents?.includes('transformer');

// Flags tested here (shared/DESIGN.md): WebGPU on, and the background networking that would
// keep trying to reach the network off. playwright adds --headless and a fresh profile.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

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
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('the demo page in Chromium', () => {
  it('generates an image whose tokens, random stream and pixels agree with Node', { timeout: 600_000 }, async () => {
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
      { timeoutMs: 480_000, env: { VK_ICD_FILENAMES: SWIFTSHADER_ICD } },
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

  it('inpaints a painted mask, edits a drawn box and outpaints, through the page controls', { timeout: 600_000 }, async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    await page.goto(`${base}?model=/models/${modelName}/`);
    await page.evaluate(() => window.maskgitApp.ready);
    await page.evaluate(() => window.maskgitApp.runGenerate({ classLabel: 0, seed: 3, steps: 4 }));
    const before = await page.evaluate(() => window.maskgitApp.canvasPixels());
    const overlay = (await page.locator('#overlay').boundingBox())!;
    const at = (fx: number, fy: number) => [overlay.x + fx * overlay.width, overlay.y + fy * overlay.height] as const;
    const status = () => page.textContent('#status');

    // Paint a stroke across the middle, then inpaint it.
    await page.mouse.move(...at(0.3, 0.5));
    await page.mouse.down();
    await page.mouse.move(...at(0.7, 0.5), { steps: 8 });
    await page.mouse.up();
    await page.fill('#steps-count', '4');
    await page.click('#inpaint');
    await page.waitForFunction(() => /Inpainted|failed/.test(document.getElementById('status')!.textContent ?? ''), null, { timeout: 300_000 });
    expect(await status()).toMatch(/^Inpainted in/);
    const inpainted = await page.evaluate(() => window.maskgitApp.canvasPixels());
    expect(inpainted).toHaveLength(before.length);
    // The top-left corner is far from the stroke: inpainting blends only near the mask.
    expect(inpainted.slice(0, 4)).toEqual(before.slice(0, 4));

    // Draw a box in the lower right and edit it to another class.
    await page.check('input[name="tool"][value="box"]');
    await page.mouse.move(...at(0.55, 0.55));
    await page.mouse.down();
    await page.mouse.move(...at(0.9, 0.9), { steps: 5 });
    await page.mouse.up();
    await page.click('#edit');
    await page.waitForFunction(() => /Edited|failed/.test(document.getElementById('status')!.textContent ?? ''), null, { timeout: 300_000 });
    expect(await status()).toMatch(/^Edited in/);

    // Outpaint 8 pixels to the right: the image grows.
    await page.fill('#amount', '8');
    await page.click('#outpaint');
    await page.waitForFunction(() => /Outpainted|failed/.test(document.getElementById('status')!.textContent ?? ''), null, { timeout: 300_000 });
    expect(await status()).toMatch(/^Outpainted in/);
    const size = await page.evaluate(() => [document.querySelector<HTMLCanvasElement>('#image')!.width, document.querySelector<HTMLCanvasElement>('#image')!.height]);
    const side = Math.sqrt(before.length / 4);
    expect(size).toEqual([side + 8, side]);
    await page.screenshot({ path: join(artifacts, 'browser-edit.png') });
    await page.close();
  });

  it('says clearly when the browser has no WebGPU', { timeout: 120_000 }, async () => {
    const noGpu = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu').concat('--disable-features=WebGPU') });
    try {
      const page = await noGpu.newPage();
      await page.goto(`${base}?model=/models/${modelName}/`);
      await page.waitForSelector('#no-webgpu:not([hidden])', { timeout: 60_000 });
      expect(await page.textContent('#no-webgpu h2')).toContain('no WebGPU');
    } finally {
      await noGpu.close();
    }
  });
});
