// The argument sweep: every public function that takes user input, given out-of-range,
// wrong-type and wrong-size values, throws a typed error that names the argument (an
// ArgumentError's `argument`, or the message of a ShapeError), before doing any work.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ArgumentError,
  convertFlaxCheckpoints,
  createEngine,
  createMaskGIT,
  decodeTokens,
  DisposedError,
  editBox,
  generate,
  inpaint,
  loadMaskGIT,
  loadModelWeights,
  loadSafetensors,
  maskCounts,
  ModelCache,
  ops,
  outpaint,
  ShapeError,
  sortCheckpoints,
  writeModelFolder,
  type DecodeOptions,
  type EditOptions,
  type Engine,
  type GenerateOptions,
  type InpaintOptions,
  type MaskSchedule,
  type OutpaintOptions,
  type RGBAImage,
} from '../src/node.js';
import { decodePNG } from '../src/io/png.js';
import { getEngine } from './helpers/engine.js';
import { TINY_MODEL_CONFIG } from './helpers/model-versions.js';
import { smallConfig, standInModel } from './helpers/standin-model.js';
import { tinyConfig, tinyModel, tinyTensors } from './helpers/tiny-maskgit.js';

const work = mkdtempSync(join(tmpdir(), 'maskgit-args-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type ErrorClass = abstract new (...args: never[]) => Error;
/** [what is passed, the call, the error class, the argument it must name] */
type Case = [string, () => unknown, ErrorClass, string | RegExp];

/** Runs every case and reports all that fail together (so one run lists every gap). */
async function expectCases(cases: readonly Case[]): Promise<void> {
  const failures: string[] = [];
  for (const [what, call, cls, name] of cases) {
    let error: unknown = null;
    try {
      await call();
    } catch (e) {
      error = e;
    }
    const got = error === null ? 'nothing thrown' : `${(error as Error).constructor.name}: ${(error as Error).message}`;
    if (!(error instanceof cls)) failures.push(`${what}: expected ${cls.name}, got ${got}`);
    else if (error instanceof ArgumentError) {
      const ok = typeof name === 'string' ? error.argument === name : name.test(error.argument);
      if (!ok) failures.push(`${what}: expected the argument ${String(name)}, got "${error.argument}" (${error.message})`);
    } else {
      const pattern = typeof name === 'string' ? new RegExp(name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : name;
      if (!pattern.test((error as Error).message)) failures.push(`${what}: expected a message naming ${String(name)}, got ${got}`);
    }
  }
  expect(failures, `${failures.length} of ${cases.length} cases`).toEqual([]);
}

const nothing = undefined as never;

describe('argument validation', () => {
  it('decodeTokens: options, config and model', async () => {
    const engine = await getEngine();
    const config = smallConfig(4, 16);
    const guided = smallConfig(4, 16, 9);
    const model = standInModel(engine, config);
    const decode = (options: Partial<DecodeOptions>, c = config) => () => decodeTokens(model, c, { classes: [1], ...options } as DecodeOptions);
    await engine.sync();
    const before = engine.stats();
    const i32 = engine.tensor(new Int32Array(16), [1, 16], 'i32');
    const f32 = engine.tensor(new Float32Array(16), [1, 16]);
    const n = 16;
    const limit = engine.device.limits.maxStorageBufferBindingSize;
    const huge = smallConfig(512, 16); // 262,144 tokens per image
    const hugeModel = { engine, forward: model.forward };
    await expectCases([
      ['classes []', decode({ classes: [] }), ArgumentError, 'classes'],
      ['class 10 of 10', decode({ classes: [10] }), ArgumentError, 'classes'],
      ['class -1', decode({ classes: [-1] }), ArgumentError, 'classes'],
      ['class 1.5', decode({ classes: [1.5] }), ArgumentError, 'classes'],
      ['classes "1"', decode({ classes: '1' as never }), ArgumentError, 'classes'],
      ['classes missing', decode({ classes: nothing }), ArgumentError, 'classes'],
      ['more images than a buffer holds', () => decodeTokens(hugeModel, huge, { classes: new Array(Math.ceil(limit / ((262_144 + 1) * 4)) + 1).fill(0) }), ArgumentError, 'classes'],
      ['steps 0', decode({ steps: 0 }), ArgumentError, 'steps'],
      ['steps -1', decode({ steps: -1 }), ArgumentError, 'steps'],
      ['steps 2.5', decode({ steps: 2.5 }), ArgumentError, 'steps'],
      ['steps NaN', decode({ steps: NaN }), ArgumentError, 'steps'],
      ['steps 10^9', decode({ steps: 1e9 }), ArgumentError, 'steps'],
      ['startStep = steps', decode({ steps: 8, startStep: 8 }), ArgumentError, 'startStep'],
      ['schedule "quadratic"', decode({ schedule: 'quadratic' as MaskSchedule }), ArgumentError, 'schedule'],
      ['schedule 5', decode({ schedule: 5 as never }), ArgumentError, 'schedule'],
      ['schedule "pow-1"', decode({ schedule: 'pow-1' as MaskSchedule }), ArgumentError, 'schedule'],
      ['sampleTemperature NaN', decode({ sampleTemperature: NaN }), ArgumentError, 'sampleTemperature'],
      ['sampleTemperature -1', decode({ sampleTemperature: -1 }), ArgumentError, 'sampleTemperature'],
      ['sampleTemperature "1"', decode({ sampleTemperature: '1' as never }), ArgumentError, 'sampleTemperature'],
      ['choiceTemperature -0.5', decode({ choiceTemperature: -0.5 }), ArgumentError, 'choiceTemperature'],
      ['choiceTemperature Infinity', decode({ choiceTemperature: Infinity }), ArgumentError, 'choiceTemperature'],
      ['topK -1', decode({ topK: -1 }), ArgumentError, 'topK'],
      ['topK 2.5', decode({ topK: 2.5 }), ArgumentError, 'topK'],
      ['topP 0', decode({ topP: 0 }), ArgumentError, 'topP'],
      ['topP 1.5', decode({ topP: 1.5 }), ArgumentError, 'topP'],
      ['topP NaN', decode({ topP: NaN }), ArgumentError, 'topP'],
      ['topP "0.5"', decode({ topP: '0.5' as never }), ArgumentError, 'topP'],
      ['guidance without a null class', decode({ guidance: { scale: 2 } }), ArgumentError, 'guidance'],
      ['guidance null', decode({ guidance: null as never }, guided), ArgumentError, 'guidance'],
      ['guidance.scale NaN', decode({ guidance: { scale: NaN } }, guided), ArgumentError, 'guidance.scale'],
      ['guidance.ramp "cubic"', decode({ guidance: { scale: 2, ramp: 'cubic' as never } }, guided), ArgumentError, 'guidance.ramp'],
      ['one seed for two images', decode({ classes: [1, 2], seeds: [1] }), ArgumentError, 'seeds'],
      ['seed 1.5', decode({ seeds: 1.5 }), ArgumentError, 'seeds'],
      ['seed "x"', decode({ seeds: 'x' as never }), ArgumentError, 'seeds'],
      ['seeds [NaN]', decode({ seeds: [NaN] }), ArgumentError, 'seeds'],
      ['seed 2^60', decode({ seeds: 2 ** 60 }), ArgumentError, 'seeds'],
      ['output "pixels"', decode({ output: 'pixels' as never }), ArgumentError, 'output'],
      ['initialTokens of the wrong size', decode({ initialTokens: new Int32Array(n - 1) }), ShapeError, 'initialTokens'],
      ['initialTokens holding a class id', decode({ initialTokens: new Int32Array(n).fill(16) }), ArgumentError, 'initialTokens'],
      ['initialTokens "abc"', decode({ initialTokens: 'abc' as never }), ArgumentError, 'initialTokens'],
      ['initialTokens f32 tensor', decode({ initialTokens: f32 as never }), ShapeError, 'initialTokens'],
      ['unknownCounts of the wrong length', decode({ initialTokens: i32, unknownCounts: [1, 2] }), ArgumentError, 'unknownCounts'],
      ['unknownCounts [-1]', decode({ initialTokens: i32, unknownCounts: [-1] }), ArgumentError, 'unknownCounts'],
      ['unknownCounts past N', decode({ initialTokens: i32, unknownCounts: [n + 1] }), ArgumentError, 'unknownCounts'],
      ['onStep 5', decode({ onStep: 5 as never }), ArgumentError, 'onStep'],
      ['engine 5', decode({ engine: 5 as never }), ArgumentError, 'engine'],
      ['model {}', () => decodeTokens({} as never, config, { classes: [1] }), ArgumentError, 'model'],
      ['model null', () => decodeTokens(null as never, config, { classes: [1] }), ArgumentError, 'model'],
      ['options null', () => decodeTokens(model, config, null as never), ArgumentError, 'options'],
      ['config.codebookSize 0', decode({}, { ...config, codebookSize: 0 }), ArgumentError, 'config.codebookSize'],
      ['config.maskTokenId inside the codebook', decode({}, { ...config, maskTokenId: 3 }), ArgumentError, 'config.maskTokenId'],
      ['config.nullClassId 99', decode({}, { ...config, nullClassId: 99 }), ArgumentError, 'config.nullClassId'],
      ['config.imageSize not a multiple of the downsampling', decode({}, { ...config, imageSize: 10 }), ArgumentError, 'config.imageSize'],
      ['config null', () => decodeTokens(model, null as never, { classes: [1] }), ArgumentError, 'config'],
    ]);
    // Nothing was computed or left allocated by the refusals.
    i32.dispose();
    f32.dispose();
    await engine.sync();
    expect(engine.stats().dispatches).toBe(before.dispatches);
    expect(engine.stats().pool.bytesInUse).toBe(before.pool.bytesInUse);
    model.dispose();
  });

  it('generate / inpaint / outpaint / editBox / loadMaskGIT / createMaskGIT: the calls users make', async () => {
    const engine = await getEngine();
    const config = tinyConfig({ classes: 10, nullClass: 9 });
    const unguided = tinyModel(engine, tinyConfig({ classes: 10 }));
    const model = tinyModel(engine, config);
    const S = config.imageSize;
    const image: RGBAImage = { width: S, height: S, data: new Uint8Array(S * S * 4).fill(200) };
    const small: RGBAImage = { width: S / 2, height: S, data: new Uint8Array((S / 2) * S * 4) };
    const wide: RGBAImage = { width: 2 * S, height: S, data: new Uint8Array(2 * S * S * 4) };
    const mask = { width: S, height: S, data: new Uint8Array(S * S).fill(1, 0, 40) };
    const box = { top: 4, left: 4, height: 8, width: 8 };
    const gen = (options: Partial<GenerateOptions>, m = model) => () => generate(m, { classes: 1, ...options } as GenerateOptions);
    const fill = (options: Partial<InpaintOptions>, img: unknown = image, msk: unknown = mask) => () => inpaint(model, img as RGBAImage, msk as never, { class: 1, ...options } as InpaintOptions);
    const extend = (options: Partial<OutpaintOptions>, img: RGBAImage = image) => () => outpaint(model, img, { side: 'right', amount: 8, class: 1, ...options } as OutpaintOptions);
    const edit = (b: unknown, target: unknown, options: Partial<EditOptions> = {}, img: unknown = image) => () => editBox(model, img as RGBAImage, b as never, target as number, options);
    const folder = join(work, 'tiny');
    await writeModelFolder(folder, config, tinyTensors(config));
    await engine.sync();
    const before = engine.stats();
    await expectCases([
      // generate
      ['generate: class 10 of 10', gen({ classes: 10 }), ArgumentError, 'classes'],
      ['generate: class -1', gen({ classes: [-1] }), ArgumentError, 'classes'],
      ['generate: class 2.5', gen({ classes: 2.5 }), ArgumentError, 'classes'],
      ['generate: classes "1"', gen({ classes: '1' as never }), ArgumentError, 'classes'],
      ['generate: classes []', gen({ classes: [] }), ArgumentError, 'classes'],
      ['generate: classes missing', gen({ classes: nothing }), ArgumentError, 'classes'],
      ['generate: batch 0', gen({ batch: 0 }), ArgumentError, 'batch'],
      ['generate: batch -2', gen({ batch: -2 }), ArgumentError, 'batch'],
      ['generate: batch 1.5', gen({ batch: 1.5 }), ArgumentError, 'batch'],
      ['generate: batch NaN', gen({ batch: NaN }), ArgumentError, 'batch'],
      ['generate: batch 3 for two labels', gen({ classes: [1, 2], batch: 3 }), ArgumentError, 'batch'],
      ['generate: batch 10^12', gen({ batch: 1e12 }), ArgumentError, 'batch'],
      ['generate: steps 0', gen({ steps: 0 }), ArgumentError, 'steps'],
      ['generate: steps -3', gen({ steps: -3 }), ArgumentError, 'steps'],
      ['generate: steps 1.5', gen({ steps: 1.5 }), ArgumentError, 'steps'],
      ['generate: steps NaN', gen({ steps: NaN }), ArgumentError, 'steps'],
      ['generate: steps "8"', gen({ steps: '8' as never }), ArgumentError, 'steps'],
      ['generate: startStep = steps', gen({ steps: 4, startStep: 4 }), ArgumentError, 'startStep'],
      ['generate: startStep -1', gen({ startStep: -1 }), ArgumentError, 'startStep'],
      ['generate: schedule "quadratic"', gen({ schedule: 'quadratic' as MaskSchedule }), ArgumentError, 'schedule'],
      ['generate: sampleTemperature NaN', gen({ sampleTemperature: NaN }), ArgumentError, 'sampleTemperature'],
      ['generate: sampleTemperature -1', gen({ sampleTemperature: -1 }), ArgumentError, 'sampleTemperature'],
      ['generate: choiceTemperature NaN', gen({ choiceTemperature: NaN }), ArgumentError, 'choiceTemperature'],
      ['generate: choiceTemperature -4.5', gen({ choiceTemperature: -4.5 }), ArgumentError, 'choiceTemperature'],
      ['generate: topK -1', gen({ topK: -1 }), ArgumentError, 'topK'],
      ['generate: topP 2', gen({ topP: 2 }), ArgumentError, 'topP'],
      ['generate: seed NaN', gen({ seed: NaN }), ArgumentError, 'seed'],
      ['generate: seed 1.5', gen({ seed: 1.5 }), ArgumentError, 'seed'],
      ['generate: seed "7"', gen({ seed: '7' as never }), ArgumentError, 'seed'],
      ['generate: guidance NaN', gen({ guidance: NaN }), ArgumentError, 'guidance.scale'],
      ['generate: guidance "2"', gen({ guidance: '2' as never }), ArgumentError, 'guidance'],
      ['generate: guidance.ramp "cubic"', gen({ guidance: { scale: 2, ramp: 'cubic' as never } }), ArgumentError, 'guidance.ramp'],
      ['generate: guidance without a null class', gen({ guidance: 2 }, unguided), ArgumentError, 'guidance'],
      ['generate: frames "yes"', gen({ frames: 'yes' as never }), ArgumentError, 'frames'],
      ['generate: onProgress 5', gen({ onProgress: 5 as never }), ArgumentError, 'onProgress'],
      ['generate: options null', () => generate(model, null as never), ArgumentError, 'options'],
      ['generate: model {}', () => generate({} as never, { classes: 1 }), ArgumentError, 'model'],
      ['generate: model null', () => generate(null as never, { classes: 1 }), ArgumentError, 'model'],
      // inpaint
      ['inpaint: class 10', fill({ class: 10 }), ArgumentError, 'class'],
      ['inpaint: class missing', fill({ class: nothing }), ArgumentError, 'class'],
      ['inpaint: class NaN', fill({ class: NaN }), ArgumentError, 'class'],
      ['inpaint: batch 0', fill({ batch: 0 }), ArgumentError, 'batch'],
      ['inpaint: steps 0', fill({ steps: 0 }), ArgumentError, 'steps'],
      ['inpaint: startStep = steps', fill({ steps: 6, startStep: 6 }), ArgumentError, 'startStep'],
      ['inpaint: schedule "pow"', fill({ schedule: 'pow' as MaskSchedule }), ArgumentError, 'schedule'],
      ['inpaint: sampleTemperature -0.1', fill({ sampleTemperature: -0.1 }), ArgumentError, 'sampleTemperature'],
      ['inpaint: choiceTemperature NaN', fill({ choiceTemperature: NaN }), ArgumentError, 'choiceTemperature'],
      ['inpaint: blurRadius -1', fill({ blurRadius: -1 }), ArgumentError, 'blurRadius'],
      ['inpaint: blurRadius NaN', fill({ blurRadius: NaN }), ArgumentError, 'blurRadius'],
      ['inpaint: seed NaN', fill({ seed: NaN }), ArgumentError, 'seed'],
      ['inpaint: an image of half the size', fill({}, small, { ...mask, width: S / 2 }), ArgumentError, 'image'],
      ['inpaint: an image with too few bytes', fill({}, { ...image, data: new Uint8Array(10) }), ArgumentError, 'image'],
      ['inpaint: image null', fill({}, null), ArgumentError, 'image'],
      ["inpaint: an image of a canvas's ImageData (Uint8ClampedArray)", fill({}, { ...image, data: new Uint8ClampedArray(S * S * 4) }), ArgumentError, 'image'],
      ["inpaint: a mask of a canvas's ImageData (Uint8ClampedArray)", fill({}, image, { ...mask, data: new Uint8ClampedArray(S * S * 4) }), ArgumentError, 'mask'],
      ['inpaint: a mask of the wrong size', fill({}, image, { ...mask, width: S - 1 }), ArgumentError, 'mask'],
      ['inpaint: a mask with too few entries', fill({}, image, { ...mask, data: new Uint8Array(S) }), ArgumentError, 'mask'],
      ['inpaint: mask "all"', fill({}, image, 'all'), ArgumentError, 'mask'],
      ['inpaint: mask null', fill({}, image, null), ArgumentError, 'mask'],
      ['inpaint: a mask that masks nothing', fill({}, image, { ...mask, data: new Uint8Array(S * S) }), ArgumentError, 'mask'],
      ['inpaint: options null', () => inpaint(model, image, mask, null as never), ArgumentError, 'options'],
      ['inpaint: model {}', () => inpaint({} as never, image, mask, { class: 1 }), ArgumentError, 'model'],
      // outpaint
      ['outpaint: side "up"', extend({ side: 'up' as never }), ArgumentError, 'side'],
      ['outpaint: side missing', extend({ side: nothing }), ArgumentError, 'side'],
      ['outpaint: amount 0', extend({ amount: 0 }), ArgumentError, 'amount'],
      ['outpaint: amount 1.5', extend({ amount: 1.5 }), ArgumentError, 'amount'],
      ['outpaint: amount 10^9', extend({ amount: 1e9 }), ArgumentError, 'amount'],
      ['outpaint: class 10', extend({ class: 10 }), ArgumentError, 'class'],
      ['outpaint: batch 0', extend({ batch: 0 }), ArgumentError, 'batch'],
      ['outpaint: steps 0', extend({ steps: 0 }), ArgumentError, 'steps'],
      ['outpaint: choiceTemperature -1', extend({ choiceTemperature: -1 }), ArgumentError, 'choiceTemperature'],
      ['outpaint: an image of the wrong height', extend({}, { ...wide, height: S / 2, data: new Uint8Array(S * S * 4) }), ArgumentError, 'image'],
      ['outpaint: an image too narrow to extend', extend({}, { width: 4, height: S, data: new Uint8Array(4 * S * 4) }), ArgumentError, 'image'],
      ['outpaint: options null', () => outpaint(model, image, null as never), ArgumentError, 'options'],
      // editBox
      ['editBox: box reaching outside', edit({ ...box, left: S - 4 }, 1), ArgumentError, 'box'],
      ['editBox: box height 0', edit({ ...box, height: 0 }, 1), ArgumentError, 'box'],
      ['editBox: box top -1', edit({ ...box, top: -1 }, 1), ArgumentError, 'box'],
      ['editBox: box width NaN', edit({ ...box, width: NaN }, 1), ArgumentError, 'box'],
      ['editBox: box null', edit(null, 1), ArgumentError, 'box'],
      ['editBox: box [0, 0, 8, 8]', edit([0, 0, 8, 8], 1), ArgumentError, 'box'],
      ['editBox: targetClass 10', edit(box, 10), ArgumentError, 'targetClass'],
      ['editBox: targetClass missing', edit(box, undefined), ArgumentError, 'targetClass'],
      ['editBox: steps 0', edit(box, 1, { steps: 0 }), ArgumentError, 'steps'],
      ['editBox: batch 0', edit(box, 1, { batch: 0 }), ArgumentError, 'batch'],
      ['editBox: sampleTemperature NaN', edit(box, 1, { sampleTemperature: NaN }), ArgumentError, 'sampleTemperature'],
      ['editBox: an image twice as wide', edit(box, 1, {}, wide), ArgumentError, 'image'],
      ['editBox: options "x"', edit(box, 1, 'x' as never), ArgumentError, 'options'],
      // loadMaskGIT / createMaskGIT
      ['loadMaskGIT: engine null', () => loadMaskGIT(null as never, folder), ArgumentError, 'engine'],
      ['loadMaskGIT: path ""', () => loadMaskGIT(engine, ''), ArgumentError, 'path'],
      ['loadMaskGIT: path 5', () => loadMaskGIT(engine, 5 as never), ArgumentError, 'path'],
      ['loadMaskGIT: dtype "f64"', () => loadMaskGIT(engine, folder, { dtype: 'f64' as never }), ArgumentError, 'dtype'],
      ['loadMaskGIT: onProgress "x"', () => loadMaskGIT(engine, folder, { onProgress: 'x' as never }), ArgumentError, 'onProgress'],
      ['loadMaskGIT: options 5', () => loadMaskGIT(engine, folder, 5 as never), ArgumentError, 'options'],
      ['createMaskGIT: config null', () => createMaskGIT(null as never, new Map()), ArgumentError, 'config'],
      ['createMaskGIT: config.numClasses 0', () => createMaskGIT({ ...config, numClasses: 0 }, model.weights), ArgumentError, /numClasses$/],
      ['createMaskGIT: weights "x"', () => createMaskGIT(config, 'x' as never), ArgumentError, 'weights'],
    ]);
    // The messages say what was given (a string shown as one) and what is expected.
    await expect(gen({ steps: '8' as never })()).rejects.toThrow(/^steps: must be a positive integer \(the number of decoding steps, e\.g\. 8\), got "8"$/);
    await expect(gen({ sampleTemperature: '1' as never })()).rejects.toThrow(/^sampleTemperature: must be a finite number >= 0 \(0: greedy\), got "1"$/);
    await expect(gen({ guidance: { scale: NaN } })()).rejects.toThrow(/^guidance\.scale: must be a finite number \(e\.g\. 2\), got NaN$/);
    await expect(fill({}, image, { ...mask, width: S - 1 })()).rejects.toThrow(/^mask: is 31x32 pixels but the image is 32x32: give a mask of the image's size$/);
    await expect(fill({}, { ...image, data: new Uint8ClampedArray(S * S * 4) })()).rejects.toThrow(/^image: data is a Uint8ClampedArray .*new Uint8Array\(data\.buffer, data\.byteOffset, data\.length\)/);
    // Every refusal came before any GPU work: nothing dispatched, uploaded or left allocated.
    await engine.sync();
    expect(engine.stats().dispatches).toBe(before.dispatches);
    expect(engine.stats().uploads).toBe(before.uploads);
    expect(engine.stats().pool.bytesInUse).toBe(before.pool.bytesInUse);
    // The same calls with valid arguments work (the cases above failed for their one bad value).
    const loaded = await loadMaskGIT(engine, folder);
    expect((await generate(loaded, { classes: 1, steps: 2 })).images).toHaveLength(1);
    expect((await inpaint(model, image, mask, { class: 1, steps: 2 })).images).toHaveLength(1);
    expect((await outpaint(model, image, { side: 'right', amount: 8, class: 1, steps: 2 })).images[0]!.width).toBe(S + 8);
    expect((await editBox(model, image, box, 1, { steps: 2 })).images).toHaveLength(1);
    loaded.dispose();
    model.dispose();
    unguided.dispose();
  });

  it('loadModelWeights / loadSafetensors: path, engine and options', async () => {
    const engine = await getEngine();
    const dir = join(work, 'none');
    await expectCases([
      ['path ""', () => loadModelWeights(engine, ''), ArgumentError, 'path'],
      ['path 5', () => loadModelWeights(engine, 5 as never), ArgumentError, 'path'],
      ['path null', () => loadSafetensors(engine, null as never), ArgumentError, 'path'],
      ['engine null', () => loadModelWeights(null as never, dir), ArgumentError, 'engine'],
      ['dtype "f64"', () => loadModelWeights(engine, dir, { dtype: 'f64' as never }), ArgumentError, 'dtype'],
      ['dtype "bf16" (loadSafetensors)', () => loadSafetensors(engine, dir, { dtype: 'bf16' as never }), ArgumentError, 'dtype'],
      ['parts ["vae"]', () => loadModelWeights(engine, dir, { parts: ['vae' as never] }), ArgumentError, 'parts'],
      ['parts "transformer"', () => loadModelWeights(engine, dir, { parts: 'transformer' as never }), ArgumentError, 'parts'],
      ['onProgress 5', () => loadModelWeights(engine, dir, { onProgress: 5 as never }), ArgumentError, 'onProgress'],
      ['fetch "x"', () => loadModelWeights(engine, 'https://models.invalid/m', { fetch: 'x' as never }), ArgumentError, 'fetch'],
      ['cache {}', () => loadModelWeights(engine, 'https://models.invalid/m', { cache: {} as never }), ArgumentError, 'cache'],
      ['options "x"', () => loadModelWeights(engine, dir, 'x' as never), ArgumentError, 'options'],
    ]);
    // A real cache and false are accepted (they fail later, on the missing folder, with the loader's error).
    await expect(loadModelWeights(engine, 'https://models.invalid/m', { cache: new ModelCache({ caches: null }), fetch: async () => new Response('', { status: 404 }) })).rejects.toThrow(/HTTP 404/);
  });

  it('convertFlaxCheckpoints / sortCheckpoints / writeModelFolder', async () => {
    const tree = { params: {} };
    await expectCases([
      ['checkpoints null', () => convertFlaxCheckpoints(null as never), ArgumentError, 'checkpoints'],
      ['transformer { tree: 5 }', () => convertFlaxCheckpoints({ transformer: { tree: 5 as never, source: 'x' } }), ArgumentError, 'transformer'],
      ['tokenizer without a source', () => convertFlaxCheckpoints({ tokenizer: { tree } as never }), ArgumentError, 'tokenizer'],
      ['no checkpoint', () => convertFlaxCheckpoints({}), ArgumentError, 'checkpoints'],
      ['dtype "f64"', () => convertFlaxCheckpoints({ transformer: { tree, source: 'x' } }, { dtype: 'f64' as never }), ArgumentError, 'dtype'],
      ['codebookSize 0', () => convertFlaxCheckpoints({ transformer: { tree, source: 'x' } }, { codebookSize: 0 }), ArgumentError, 'codebookSize'],
      ['codebookSize 1.5', () => convertFlaxCheckpoints({ transformer: { tree, source: 'x' } }, { codebookSize: 1.5 }), ArgumentError, 'codebookSize'],
      ['imageSize -1', () => convertFlaxCheckpoints({ transformer: { tree, source: 'x' } }, { imageSize: -1 }), ArgumentError, 'imageSize'],
      ['options "x"', () => convertFlaxCheckpoints({ transformer: { tree, source: 'x' } }, 'x' as never), ArgumentError, 'options'],
      ['sortCheckpoints("x")', () => sortCheckpoints('x' as never), ArgumentError, 'checkpoints'],
      ['sortCheckpoints([])', () => sortCheckpoints([]), ArgumentError, 'checkpoints'],
      ['sortCheckpoints of three', () => sortCheckpoints([{ tree, source: 'a' }, { tree, source: 'b' }, { tree, source: 'c' }]), ArgumentError, 'checkpoints'],
      ['sortCheckpoints([5])', () => sortCheckpoints([5 as never]), ArgumentError, 'checkpoints[0]'],
      ['writeModelFolder to ""', () => writeModelFolder('', TINY_MODEL_CONFIG, []), ArgumentError, 'out'],
      ['writeModelFolder with an invalid config', () => writeModelFolder(join(work, 'bad-config'), { ...TINY_MODEL_CONFIG, numClasses: 0 }, []), ArgumentError, 'config'],
      ['writeModelFolder with missing tensors', () => writeModelFolder(join(work, 'bad-tensors'), TINY_MODEL_CONFIG, []), ArgumentError, 'tensors'],
      ['maskCounts over 10^9 steps', () => maskCounts('cosine', 256, 1e9), ArgumentError, 'steps'],
      ['decodePNG("x")', () => decodePNG('x' as never, 'mask'), ArgumentError, 'mask'],
      ['decodePNG maxPixels 0', () => decodePNG(new Uint8Array(8), 'image', { maxPixels: 0 }), ArgumentError, 'maxPixels'],
    ]);
  });

  it('engine: tensor shapes, data, dtypes, copies, scopes and options', async () => {
    const engine: Engine = await getEngine();
    const t = engine.tensor([1, 2, 3, 4], [4]);
    await expectCases([
      ['shape "x"', () => engine.tensor([1], 'x' as never), ShapeError, 'shape'],
      ['shape [-1]', () => engine.tensor([], [-1]), ShapeError, 'shape [-1]'],
      ['shape [1.5]', () => engine.empty([1.5]), ShapeError, 'shape [1.5]'],
      ['shape [NaN]', () => engine.zeros([NaN]), ShapeError, 'shape [NaN]'],
      ['4 values for [2, 3]', () => engine.tensor([1, 2, 3, 4], [2, 3]), ShapeError, 'shape [2, 3] needs 6'],
      ['data 5', () => engine.tensor(5 as never, [1]), ArgumentError, 'data'],
      ['data null', () => engine.tensor(null as never, [1]), ArgumentError, 'data'],
      ['dtype "f64"', () => engine.tensor([1], [1], 'f64' as never), ShapeError, 'unknown dtype "f64"'],
      ['empty of dtype "i8"', () => engine.empty([1], 'i8' as never), ShapeError, 'unknown dtype "i8"'],
      ['bytes "x"', () => engine.tensorFromBytes('x' as never, [1], 'f32'), ArgumentError, 'bytes'],
      ['3 bytes for one f32', () => engine.tensorFromBytes(new Uint8Array(3), [1], 'f32'), ShapeError, '3 bytes given'],
      ['a tensor past the binding limit', () => engine.empty([2 ** 20, 2 ** 20, 64]), ShapeError, /tensor \[1048576, 1048576, 64\] f32 needs \d+ bytes/],
      ['copy at offset 2', () => engine.copy(t, 2, t, 0, 4), ShapeError, 'srcOffset'],
      ['copy of -4 bytes', () => engine.copy(t, 0, t, 0, -4), ShapeError, 'bytes'],
      ['copy to a non-tensor', () => engine.copy(t, 0, {} as never, 0, 4), ArgumentError, 'copy: dst'],
      ['write 3 values to 4', () => engine.write(t, [1, 2, 3]), ShapeError, 'write: 3 values'],
      ['read(5)', () => engine.read(5 as never), ArgumentError, 'read: tensor'],
      ['tidy(5)', () => engine.tidy(5 as never), ArgumentError, 'fn'],
      ['reshape [-1, -1]', () => t.reshape([-1, -1]), ShapeError, 'at most one dimension may be -1'],
      ['reshape [3]', () => t.reshape([3]), ShapeError, 'cannot reshape [4]'],
      ['createEngine maxDispatchesPerSubmit 0', () => createEngine({ maxDispatchesPerSubmit: 0 }), ArgumentError, 'maxDispatchesPerSubmit'],
      ['createEngine powerPreference "fast"', () => createEngine({ powerPreference: 'fast' as never }), ArgumentError, 'powerPreference'],
      ['createEngine disableFeatures "subgroups"', () => createEngine({ disableFeatures: 'subgroups' as never }), ArgumentError, 'disableFeatures'],
      ['createEngine("x")', () => createEngine('x' as never), ArgumentError, 'options'],
    ]);
    t.dispose();
  });

  it('ops: operands, dtypes, shapes and op names', async () => {
    const engine = await getEngine();
    const a = engine.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = engine.tensor([1, 2, 3, 4], [4]);
    const ints = engine.tensor([1, 2, 3], [3], 'i32');
    const gone = engine.tensor([1], [1]);
    gone.dispose();
    await expectCases([
      ['add(a, 5)', () => ops.add(a, 5 as never), ArgumentError, 'add: b'],
      ['mul(null, a)', () => ops.mul(null as never, a), ArgumentError, 'mul: a'],
      ['add of f32 and i32', () => ops.add(a, ints as never), ShapeError, 'dtypes differ'],
      ['add [2, 3] + [4]', () => ops.add(a, b), ShapeError, 'do not broadcast'],
      ['add of a disposed tensor', () => ops.add(a, gone), DisposedError, 'add: b'],
      ['binary "pow"', () => ops.binary('pow' as never, a, a), ArgumentError, 'op'],
      ['unary "erf"', () => ops.unary('erf' as never, a), ArgumentError, 'op'],
      ['scale(a, "2")', () => ops.scale(a, '2' as never), ArgumentError, 'affine: alpha'],
      ['log of i32', () => ops.log(ints as never), ShapeError, 'log: needs a float tensor'],
      ['cast to "f64"', () => ops.cast(a, 'f64' as never), ShapeError, 'unknown dtype "f64"'],
      ['sum of a scalar', () => ops.sum(engine.tensor([1], [])), ShapeError, 'sum: needs a tensor of rank >= 1'],
      ['sum(5)', () => ops.sum(5 as never), ArgumentError, 'sum: a'],
      ['sumTo [2, 3] -> [5]', () => ops.sumTo(a, [5]), ShapeError, 'does not broadcast'],
      ['sumTo shape "x"', () => ops.sumTo(a, 'x' as never), ShapeError, 'sumTo: shape'],
    ]);
    for (const t of [a, b, ints]) t.dispose();
  });
});
