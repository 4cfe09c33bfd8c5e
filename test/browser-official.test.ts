// The official checkpoints in a browser tab (Debian's Chromium, headless, WebGPU on
// SwiftShader): small checkpoints in the official Flax format (the release's layout and
// msgpack encoding at tiny sizes, test/helpers/flax-fixtures.ts) are dropped on the page,
// converted in its worker into the Origin Private File System and generated from; the stored
// files, the tokens and the errors are held to `maskgit convert` + `maskgit generate` run in
// Node on the same adapter (Dawn over Chromium's SwiftShader). Also: a conversion cancelled
// midway leaves nothing, the second visit loads from storage without converting, a converted
// folder can be dropped too, 1000-class models get the ImageNet names, and forgetting frees it all.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFlaxCheckpointFile, writeModelFolder } from '../src/node.js';
import { launchChromium, servePage, SWIFTSHADER_ICD, type ServedPage } from './helpers/chromium.js';
import { TINY_TOKENIZER, TINY_TRANSFORMER, tokenizerFixture, transformerFixture } from './helpers/flax-fixtures.js';
import { tinyConfig, tinyTensors } from './helpers/tiny-maskgit.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

const root = resolve(__dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'maskgit-browser-official-'));
const modelsDir = join(work, 'models');
/** The checkpoints, served under /models/ckpt/ so the page can fetch and drop them. */
const ckpt = join(modelsDir, 'ckpt');
const TRANSFORMER = 'maskgit_tiny_checkpoint';
const TOKENIZER = 'tokenizer_tiny_checkpoint';
const artifacts = join(root, 'test-artifacts');

let page: ServedPage;
let browser: Browser;

/** The built CLI in a child process, on Chromium's SwiftShader. */
function cli(args: string[], cwd = ckpt): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(root, 'dist/cli.js'), ...args],
      { cwd, env: { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD }, timeout: HANG_GUARD_MS, maxBuffer: 1 << 24 },
      (error, stdout, stderr) => {
        // Dawn's limit warnings are printed by the native module on stderr: not ours.
        done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr: stderr.replace(/^Warning: maxDynamic.*\n/gm, '') });
      },
    );
  });
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

beforeAll(async () => {
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
  mkdirSync(ckpt, { recursive: true });
  await writeFlaxCheckpointFile(join(ckpt, TRANSFORMER), transformerFixture(TINY_TRANSFORMER, 21).tree);
  await writeFlaxCheckpointFile(join(ckpt, TOKENIZER), tokenizerFixture(TINY_TOKENIZER, 22).tree);
  // Wrong files: a download cut short, something that is no checkpoint, the same part twice.
  writeFileSync(join(ckpt, 'tokenizer_truncated_checkpoint'), readFileSync(join(ckpt, TOKENIZER)).subarray(0, 5000));
  writeFileSync(join(ckpt, 'notes.txt'), 'these are not the weights\n');
  writeFileSync(join(ckpt, 'tokenizer_copy_checkpoint'), readFileSync(join(ckpt, TOKENIZER)));
  // A larger transformer, for stopping a conversion midway (it is paced by the test hook, not by its size).
  await writeFlaxCheckpointFile(join(ckpt, 'maskgit_wide_checkpoint'), transformerFixture({ ...TINY_TRANSFORMER, layers: 6, hidden: 48, heads: 4, mlp: 96 }, 23).tree);
  // The model the page starts with (the bundled model's place).
  const start = tinyConfig({ classes: 4, nullClass: 3 });
  await writeModelFolder(join(modelsDir, 'start'), start, tinyTensors(start, 5));
  // A converted folder of a 1000-class model (the official class count), for the folder drop and the ImageNet names.
  const imagenet = tinyConfig({ classes: 1000 });
  await writeModelFolder(join(modelsDir, 'imagenet-tiny'), imagenet, tinyTensors(imagenet, 6));
  page = await servePage(modelsDir);
  browser = await launchChromium();
}, HANG_GUARD_MS);

afterAll(async () => {
  await browser?.close();
  await page?.close();
  rmSync(work, { recursive: true, force: true });
});

async function open(context: BrowserContext, query = '?model=/models/start/'): Promise<Page> {
  const tab = await context.newPage();
  const logs: string[] = [];
  tab.on('console', (m) => logs.push(m.text()));
  tab.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await tab.goto(page.base + query);
  await tab.evaluate(() => window.maskgitApp.ready).catch((error) => {
    throw new Error(`the page did not start: ${String(error)}\n${logs.join('\n')}`);
  });
  return tab;
}

/** Drops files on the page's drop zone, as a user would (a DataTransfer of Files fetched from the server). */
async function drop(tab: Page, names: string[]): Promise<void> {
  await tab.evaluate(async (urls) => {
    const data = new DataTransfer();
    for (const url of urls) data.items.add(new File([await (await fetch(url)).blob()], url.split('/').pop()!));
    document.getElementById('model-drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  }, names.map((n) => `/models/${n}`));
}

/** Waits for the next model event after `count` events and returns it. */
async function nextEvent(tab: Page, count: number, kinds: string[]): Promise<{ kind: string; name?: string; from?: string; errorName?: string; message?: string }> {
  await tab.waitForFunction(
    ({ count, kinds }) => window.maskgitApp.modelEvents.slice(count).some((e) => kinds.includes(e.kind)),
    { count, kinds },
    { timeout: HANG_GUARD_MS, polling: 200 },
  );
  return tab.evaluate(({ count, kinds }) => window.maskgitApp.modelEvents.slice(count).find((e) => kinds.includes(e.kind))!, { count, kinds });
}

/** Every entry under maskgit-models/ in the tab's OPFS (temporaries included). */
function storedEntries(tab: Page): Promise<string[]> {
  return tab.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const models = await root.getDirectoryHandle('maskgit-models').catch(() => null);
    const names: string[] = [];
    if (models) for await (const name of models.keys()) names.push(name);
    return names.sort();
  });
}

describe('the official checkpoints in the page (Chromium, SwiftShader)', () => {
  it('converts dropped checkpoints in a worker, stores them, generates what Node generates; bad files fail as the CLI fails; cancel; second visit', { timeout: HANG_GUARD_MS }, async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const tab = await open(context);
    expect((await tab.evaluate(() => window.maskgitApp.engine!.info.architecture)).toLowerCase()).toContain('swiftshader');
    const f16 = await tab.evaluate(() => window.maskgitApp.engine!.hasF16);

    // 1. Drop the two checkpoints: converted in the worker, stored, loaded from storage.
    let events = await tab.evaluate(() => window.maskgitApp.modelEvents.length);
    await drop(tab, [`ckpt/${TOKENIZER}`, `ckpt/${TRANSFORMER}`]);
    const converted = await nextEvent(tab, events, ['converted', 'error']);
    expect(converted, JSON.stringify(converted)).toMatchObject({ kind: 'converted' });
    const dtype = f16 ? 'f16' : 'f32';
    expect(converted.name).toBe(`maskgit_tiny-${dtype}`);
    expect(await nextEvent(tab, events, ['loaded'])).toEqual({ kind: 'loaded', name: converted.name, from: 'storage' });
    expect(await storedEntries(tab)).toEqual([converted.name]);
    expect(await tab.textContent('#stored-models')).toContain(converted.name);
    mkdirSync(artifacts, { recursive: true });
    await tab.screenshot({ path: join(artifacts, 'browser-official-converted.png'), fullPage: true });
    expect(await tab.textContent('#storage-usage')).toMatch(/^Stored models: [\d.]+ MB\. This site uses [\d.]+ MB of [\d.]+ MB/);

    // 2. The same files as `maskgit convert` writes from the same checkpoints.
    const node = await cli(['convert', TRANSFORMER, TOKENIZER, '--out', join(work, 'node-model'), '--dtype', dtype]);
    expect(node.code, node.stderr).toBe(0);
    for (const file of ['config.json', 'model.safetensors']) {
      expect(await tab.evaluate(({ name, file }) => window.maskgitApp.storedDigest(name, file), { name: converted.name!, file }), file).toBe(sha256(join(work, 'node-model', file)));
    }

    // 3. Generated tokens equal `maskgit generate`'s, same seed, same adapter.
    const request = { classLabel: 3, seed: 11, steps: 6 };
    const generated = await tab.evaluate((r) => window.maskgitApp.runGenerate(r), request);
    const info = await cli(['info', '--json']);
    expect(JSON.stringify(JSON.parse(info.stdout)).toLowerCase()).toContain('swiftshader');
    const gen = await cli(['generate', '--model', join(work, 'node-model'), '--class', '3', '--seed', '11', '--steps', '6', '--out', join(work, 'node.png'), '--tokens-out', join(work, 'node-tokens.json')]);
    expect(gen.code, gen.stderr).toBe(0);
    expect(generated.tokens).toEqual(JSON.parse(readFileSync(join(work, 'node-tokens.json'), 'utf8')));
    expect(generated.tokens).toHaveLength(16);

    // 4. Wrong files: the CLI's one-line error, word for word; the page goes on working.
    const cases: { files: string[]; pick?: boolean }[] = [
      { files: ['tokenizer_truncated_checkpoint', TRANSFORMER], pick: true },
      { files: ['notes.txt'] },
      { files: [TOKENIZER, 'tokenizer_copy_checkpoint'] },
    ];
    for (const c of cases) {
      const expected = await cli(['-q', 'convert', ...c.files, '--out', join(work, 'never')]);
      expect(expected.code, c.files.join(' ')).toBe(4);
      const line = expected.stderr.trim();
      expect(line.split('\n')).toHaveLength(1);
      events = await tab.evaluate(() => window.maskgitApp.modelEvents.length);
      if (c.pick) await tab.setInputFiles('#model-files', c.files.map((f) => join(ckpt, f)));
      else await drop(tab, c.files.map((f) => `ckpt/${f}`));
      const failed = await nextEvent(tab, events, ['error', 'converted']);
      expect(failed.kind, c.files.join(' ')).toBe('error');
      expect(`maskgit: ${await tab.textContent('#model-error')}`).toBe(line);
      console.log(`${c.files.join(' + ')}: ${line}`);
    }
    expect(await storedEntries(tab)).toEqual([converted.name]);
    const again = await tab.evaluate((r) => window.maskgitApp.runGenerate(r), request);
    expect(again.tokens).toEqual(generated.tokens);

    // 5. Cancelled midway (paced by the test hook: a pause after each tensor): nothing is left, the model stays.
    events = await tab.evaluate(() => window.maskgitApp.modelEvents.length);
    await tab.evaluate(async () => {
      const get = async (n: string) => new File([await (await fetch(`/models/ckpt/${n}`)).blob()], n);
      void window.maskgitApp.addModelFiles([await get('maskgit_wide_checkpoint'), await get('tokenizer_tiny_checkpoint')], undefined, 150);
    });
    await tab.waitForFunction(() => /^Writing model\.safetensors: [\d.]+ of/.test(document.getElementById('convert-status')!.textContent ?? ''), null, { timeout: HANG_GUARD_MS });
    expect((await storedEntries(tab)).some((n) => n.startsWith('.partial-'))).toBe(true);
    await tab.click('#convert-cancel');
    expect(await nextEvent(tab, events, ['cancelled', 'converted', 'error'])).toEqual({ kind: 'cancelled' });
    await tab.waitForFunction(() => window.maskgitApp.conversion === null, null, { timeout: HANG_GUARD_MS });
    expect(await storedEntries(tab)).toEqual([converted.name]);
    expect((await tab.evaluate((r) => window.maskgitApp.runGenerate(r), request)).tokens).toEqual(generated.tokens);
    await tab.close();

    // 6. The second visit loads the stored model: no conversion, no checkpoint fetched, the same tokens.
    const fetched = page.requests.length;
    const second = await open(context, '');
    expect(await second.evaluate(() => window.maskgitApp.modelEvents)).toEqual([{ kind: 'loaded', name: converted.name, from: 'storage' }]);
    expect(page.requests.slice(fetched).filter((p) => p.startsWith('/models/'))).toEqual([]);
    expect(await second.textContent('#status')).toContain("from this browser's storage");
    expect((await second.evaluate((r) => window.maskgitApp.runGenerate(r), request)).tokens).toEqual(generated.tokens);

    // 7. Forget frees it.
    await second.click(`#stored-models li[data-name="${converted.name}"] button:has-text("Forget")`);
    await second.waitForFunction(() => document.getElementById('storage-usage')!.textContent!.startsWith('Stored models: none'), null, { timeout: HANG_GUARD_MS });
    expect(await storedEntries(second)).toEqual([]);
    expect(await second.evaluate(() => window.maskgitApp.storedModels())).toEqual([]);
    await context.close();
  });

  it('imports a dropped converted folder, names 1000 classes as ImageNet and finds them by search', { timeout: HANG_GUARD_MS }, async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const tab = await open(context);
    // The folder picker (an <input webkitdirectory>): the page names the model after the folder.
    await tab.setInputFiles('#model-folder', join(modelsDir, 'imagenet-tiny'));
    expect(await nextEvent(tab, 1, ['loaded', 'error'])).toEqual({ kind: 'loaded', name: 'imagenet-tiny', from: 'storage' });
    expect(await tab.evaluate(() => window.maskgitApp.storedDigest('imagenet-tiny', 'model.safetensors'))).toBe(sha256(join(modelsDir, 'imagenet-tiny/model.safetensors')));
    const options = () => tab.$$eval('#class option', (o) => o.map((x) => (x as HTMLOptionElement).textContent));
    expect(await options()).toHaveLength(1000);
    expect((await options()).slice(0, 2)).toEqual(['0: tench, Tinca tinca', '1: goldfish, Carassius auratus']);
    await tab.fill('#class-search', 'golden retriever');
    expect(await options()).toEqual(['207: golden retriever']);
    await tab.fill('#class-search', 'retriever');
    expect(await options()).toEqual(['205: flat-coated retriever', '206: curly-coated retriever', '207: golden retriever', '208: Labrador retriever', '209: Chesapeake Bay retriever']);
    await tab.selectOption('#class', '208');
    await tab.click('#generate');
    await tab.waitForFunction(() => /Generated|failed/.test(document.getElementById('status')!.textContent ?? ''), null, { timeout: HANG_GUARD_MS });
    expect(await tab.textContent('#status')).toMatch(/^Generated in/);
    expect(await tab.evaluate(() => window.maskgitApp.current?.classLabel)).toBe(208);
    await context.close();
  });
});
