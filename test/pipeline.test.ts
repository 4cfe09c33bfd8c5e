// The pipeline on a real tiny MaskGIT (BidirectionalTransformer + VQGANTokenizer, random
// weights): the GPU decode against the TypeScript reference of the official algorithm on the
// same model's logits, generate's batch/seed contract, progress and frames.
import { describe, expect, it } from 'vitest';
import {
  decodeTokens,
  generate,
  imageSeeds,
  logitsModel,
  maskCounts,
  referenceDecode,
  rgbFloatToRGBA,
  type DecodeOptions,
  type GenerateProgress,
} from '../src/node.js';
import { getEngine } from './helpers/engine.js';
import { randomInts } from './helpers/random.js';
import { tinyConfig, tinyModel, type TinyModel } from './helpers/tiny-maskgit.js';

const GREEDY = { sampleTemperature: 0, choiceTemperature: 0 } as const;

/** The GPU decode and referenceDecode over the same transformer's logits (read back each step). */
async function gpuAndReference(model: TinyModel, options: Omit<DecodeOptions, 'engine'>): Promise<{ gpu: Int32Array; host: Int32Array }> {
  const { config } = model;
  const logits = logitsModel(model);
  const gpuTokens = await decodeTokens(logits, config, options);
  const gpu = await gpuTokens.read();
  gpuTokens.dispose();
  const batch = options.classes.length;
  const L = config.transformer.maxPositions;
  const n = L - 1;
  const initial = new Int32Array(batch * L).fill(config.maskTokenId);
  for (let b = 0; b < batch; b++) {
    initial[b * L] = options.classes[b]! + config.codebookSize;
    if (options.initialTokens instanceof Int32Array) initial.set(options.initialTokens.subarray(b * n, (b + 1) * n), b * L + 1);
  }
  const logitsFor = async (tokens: Int32Array) => {
    const t = model.engine.tensor(tokens, [tokens.length / L, L], 'i32');
    const out = logits.forward(t);
    const data = (await out.read()) as Float32Array;
    t.dispose();
    out.dispose();
    return data;
  };
  const guidance = options.guidance;
  const host = await referenceDecode(
    logitsFor,
    initial,
    batch,
    config.codebookSize,
    {
      codebookSize: config.codebookSize,
      maskTokenId: config.maskTokenId,
      steps: options.steps ?? 8,
      schedule: options.schedule ?? 'cosine',
      startStep: options.startStep ?? 0,
      sampleTemperature: options.sampleTemperature ?? 1,
      choiceTemperature: options.choiceTemperature ?? 4.5,
      seeds: imageSeeds(options.seeds, batch),
      ...(guidance ? { guidanceAt: () => guidance.scale } : {}),
    },
    config.nullClassId === null ? undefined : config.nullClassId + config.codebookSize,
  );
  return { gpu, host };
}

describe('GPU decode with a real tiny BidirectionalTransformer equals referenceDecode (temperature 0, token for token)', () => {
  it('8x8 tokens, codebook 32, B = 3, T = 8 and T = 12, cosine and linear', async () => {
    const engine = await getEngine();
    const model = tinyModel(engine, tinyConfig(), 3);
    for (const [steps, schedule] of [[8, 'cosine'], [12, 'linear']] as const) {
      const { gpu, host } = await gpuAndReference(model, { classes: [0, 4, 9], steps, schedule, ...GREEDY });
      expect([...gpu], `T = ${steps}, ${schedule}`).toEqual([...host]);
      // The decode used many codes (the comparison is not between constant sequences).
      expect(new Set(gpu).size, 'distinct tokens').toBeGreaterThan(8);
    }
    model.dispose();
  });

  it('editing: initial tokens with masked regions, start step 2 of 12; and guidance (null class) as a batch of 2B', async () => {
    const engine = await getEngine();
    const model = tinyModel(engine, tinyConfig({ nullClass: 9 }), 4);
    const n = 64;
    const init = Int32Array.from(randomInts(2 * n, 5, 0, 32));
    for (let i = 0; i < n; i++) if ((i % 8 >= 2 && i % 8 < 6 && i >= 16 && i < 48) || i < 3) init[i] = model.config.maskTokenId;
    for (let i = 40; i < n; i++) init[n + i] = model.config.maskTokenId;
    const edit = await gpuAndReference(model, { classes: [1, 2], steps: 12, startStep: 2, initialTokens: init, ...GREEDY });
    expect([...edit.gpu]).toEqual([...edit.host]);
    const guided = await gpuAndReference(model, { classes: [3, 5], steps: 8, guidance: { scale: 2.5 }, ...GREEDY });
    expect([...guided.gpu]).toEqual([...guided.host]);
    model.dispose();
  });
});

describe('generate', () => {
  it('batch image i equals a single-image run with seed + i (tokens and pixels); another seed differs', async () => {
    const engine = await getEngine();
    const model = tinyModel(engine, tinyConfig(), 5);
    const batch = await generate(model, { classes: [2, 7, 7], seed: 40, steps: 6 });
    expect(batch.images).toHaveLength(3);
    for (const image of batch.images) {
      expect([image.width, image.height, image.data.length]).toEqual([32, 32, 32 * 32 * 4]);
    }
    for (let i = 0; i < 3; i++) {
      const single = await generate(model, { classes: [[2, 7, 7][i]!], seed: 40 + i, steps: 6 });
      expect([...single.tokens[0]!], `image ${i}: tokens`).toEqual([...batch.tokens[i]!]);
      expect(Buffer.compare(single.images[0]!.data, batch.images[i]!.data), `image ${i}: pixels`).toBe(0);
    }
    // One label for the batch is the same as that label repeated.
    const repeated = await generate(model, { classes: 7, batch: 2, seed: 41, steps: 6 });
    expect(repeated.tokens.map((t) => [...t])).toEqual(batch.tokens.slice(1).map((t) => [...t]));
    const other = await generate(model, { classes: [2], seed: 99, steps: 6 });
    expect([...other.tokens[0]!]).not.toEqual([...batch.tokens[0]!]);
    // The images are the tokens decoded by the VQGAN.
    const decoded = model.tokenizer.decode(engine.tensor(batch.tokens[0]!, [1, 64], 'i32'));
    expect(Buffer.compare(rgbFloatToRGBA(await decoded.read(), 32, 32).data, batch.images[0]!.data)).toBe(0);
    decoded.dispose();
    model.dispose();
  });

  it('temperature 0 is deterministic whatever the seed (argmax, no noise)', async () => {
    const engine = await getEngine();
    const model = tinyModel(engine, tinyConfig(), 6);
    const a = await generate(model, { classes: [3], seed: 1, steps: 8, ...GREEDY });
    const b = await generate(model, { classes: [3], seed: 12345, steps: 8, ...GREEDY });
    expect([...a.tokens[0]!]).toEqual([...b.tokens[0]!]);
    model.dispose();
  });

  it('progress: one call per step in order; frames: tokens, sketches and shaded images per step', async () => {
    const engine = await getEngine();
    const model = tinyModel(engine, tinyConfig(), 7);
    const { maskTokenId: maskId } = model.config;
    const plain: GenerateProgress[] = [];
    await generate(model, { classes: [1, 2], steps: 5, onProgress: (p) => void plain.push(p) });
    expect(plain.map((p) => [p.step, p.steps, p.tokens])).toEqual([1, 2, 3, 4, 5].map((s) => [s, 5, undefined]));

    const seen: GenerateProgress[] = [];
    const result = await generate(model, { classes: [1, 2], steps: 5, frames: true, onProgress: async (p) => void seen.push(p) });
    expect(seen.map((p) => p.step)).toEqual([1, 2, 3, 4, 5]);
    const frames = result.frames!;
    expect(frames.map((f) => f.step)).toEqual([1, 2, 3, 4, 5]);
    const expected = maskCounts('cosine', 64, 5);
    frames.forEach((frame, k) => {
      expect(frame.tokens).toHaveLength(2);
      for (let b = 0; b < 2; b++) {
        const masked = frame.tokens[b]!.filter((t) => t === maskId).length;
        expect(masked, `frame ${k}, image ${b}`).toBe(k === 4 ? 0 : expected[k]);
        // Known tokens of a frame are the step's draws; the sketch fills every position.
        expect(frame.sketch[b]!.every((t) => t >= 0 && t < 32)).toBe(true);
        frame.tokens[b]!.forEach((t, i) => t !== maskId && expect(t).toBe(frame.sketch[b]![i]));
        // Masked blocks (4x4 pixels) are drawn as the grey checkerboard.
        const image = frame.images[b]!;
        const first = frame.tokens[b]!.indexOf(maskId);
        if (first >= 0) {
          const [x, y] = [(first % 8) * 4, Math.floor(first / 8) * 4];
          expect([...image.data.subarray((y * 32 + x) * 4, (y * 32 + x) * 4 + 4)]).toEqual([160, 160, 160, 255]);
          expect(image.data[(y * 32 + x + 1) * 4]).toBe(96);
        }
      }
      // progress.tokens are the frame's tokens.
      expect(seen[k]!.tokens!.map((t) => [...t])).toEqual(frame.tokens.map((t) => [...t]));
    });
    // The last frame's tokens are the result.
    expect(frames[4]!.tokens.map((t) => [...t])).toEqual(result.tokens.map((t) => [...t]));
    model.dispose();
  });

  it('frees everything it allocates (the pool is back where it was)', async () => {
    const engine = await getEngine();
    const model = tinyModel(engine, tinyConfig(), 8);
    await generate(model, { classes: [1], steps: 3 }); // fills the pool
    await engine.sync();
    const before = engine.stats().pool.bytesInUse;
    await generate(model, { classes: [1, 2, 3, 4, 5], steps: 4, frames: true });
    await engine.sync();
    expect(engine.stats().pool.bytesInUse).toBe(before);
    model.dispose();
  });
});
