import { describe, expect, it } from 'vitest';
import { ArgumentError, decodeTokens, imageSeeds, referenceDecode, type DecodeConfig, type DecodeOptions, type MaskSchedule } from '../src/node.js';
import { getEngine } from './helpers/engine.js';
import { randomInts } from './helpers/random.js';
import { smallConfig, standInModel, type StandIn } from './helpers/standin-model.js';

/** Runs the GPU decode and the host reference on the same stand-in model; returns both. */
async function both(model: StandIn, config: DecodeConfig, options: Omit<DecodeOptions, 'engine'>): Promise<{ gpu: Int32Array; host: Int32Array }> {
  const gpuTokens = await decodeTokens(model, config, options);
  const gpu = await gpuTokens.read();
  gpuTokens.dispose();
  const batch = options.classes.length;
  const n = model.length - 1;
  const initial = new Int32Array(batch * model.length).fill(config.maskTokenId);
  for (let b = 0; b < batch; b++) {
    initial[b * model.length] = options.classes[b]! + config.codebookSize;
    if (options.initialTokens instanceof Int32Array) initial.set(options.initialTokens.subarray(b * n, (b + 1) * n), b * model.length + 1);
  }
  const steps = options.steps ?? 8;
  const guidance = options.guidance;
  const host = await referenceDecode(
    (tokens) => model.logitsFor(tokens),
    initial,
    batch,
    model.vocab,
    {
      codebookSize: config.codebookSize,
      maskTokenId: config.maskTokenId,
      steps,
      schedule: options.schedule ?? 'cosine',
      startStep: options.startStep ?? 0,
      sampleTemperature: options.sampleTemperature ?? 1,
      choiceTemperature: options.choiceTemperature ?? 4.5,
      topK: options.topK ?? 0,
      topP: options.topP ?? 1,
      seeds: imageSeeds(options.seeds, batch),
      ...(guidance
        ? { guidanceAt: (t: number) => (guidance.ramp === 'linear' ? 1 + (guidance.scale - 1) * (steps > 1 ? t / (steps - 1) : 1) : guidance.scale) }
        : {}),
    },
    config.nullClassId === null ? undefined : config.nullClassId + config.codebookSize,
  );
  return { gpu, host };
}

const GREEDY = { sampleTemperature: 0, choiceTemperature: 0 } as const;

describe('GPU decode equals the TypeScript reference at temperature 0 (token for token)', () => {
  const cases: { name: string; side: number; C: number; classes: number[]; steps: number; schedule: MaskSchedule }[] = [
    { name: '4x4 latents, C=16, T=12, cosine', side: 4, C: 16, classes: [3], steps: 12, schedule: 'cosine' },
    { name: '16x16 latents, C=64, B=3, T=8, cosine', side: 16, C: 64, classes: [0, 5, 9], steps: 8, schedule: 'cosine' },
    { name: '16x16, C=32, B=2, T=10, linear', side: 16, C: 32, classes: [1, 2], steps: 10, schedule: 'linear' },
    { name: '8x8, C=32, B=2, T=6, square', side: 8, C: 32, classes: [4, 4], steps: 6, schedule: 'square' },
    { name: '8x8, C=32, B=2, T=7, log', side: 8, C: 32, classes: [7, 8], steps: 7, schedule: 'log' },
    { name: '8x8, C=32, B=2, T=7, exp', side: 8, C: 32, classes: [6, 0], steps: 7, schedule: 'exp' },
    { name: '16x16, C=1024 (official codebook), B=2, T=8', side: 16, C: 1024, classes: [1, 8], steps: 8, schedule: 'cosine' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const engine = await getEngine();
      const config = smallConfig(c.side, c.C);
      const model = standInModel(engine, config, { seed: c.C + c.side });
      const { gpu, host } = await both(model, config, { classes: c.classes, steps: c.steps, schedule: c.schedule, ...GREEDY, seeds: 11 });
      expect([...gpu]).toEqual([...host]);
      expect(gpu.every((t, i) => (i % model.length === 0 ? t >= c.C : t >= 0 && t < c.C))).toBe(true);
      model.dispose();
    });
  }
});

describe('GPU decode against the reference: editing, guidance, ties, noise', () => {
  it('initialTokens with a different N0 per image, startStep 2 of 12', async () => {
    const engine = await getEngine();
    const config = smallConfig(8, 32);
    const model = standInModel(engine, config, { seed: 5 });
    const n = 64;
    // Image 0: a box masked (24 unknown); image 1: 5 unknown; image 2: all unknown.
    const init = Int32Array.from(randomInts(3 * n, 3, 0, 32));
    for (let i = 0; i < n; i++) {
      if (i % 8 >= 2 && i % 8 < 5 && i >= 16) init[i] = config.maskTokenId;
      if (i < 5) init[n + i] = config.maskTokenId;
      init[2 * n + i] = config.maskTokenId;
    }
    const { gpu, host } = await both(model, config, { classes: [1, 2, 3], steps: 12, startStep: 2, initialTokens: init, ...GREEDY });
    expect([...gpu]).toEqual([...host]);
    // Known tokens are kept.
    for (let b = 0; b < 3; b++) for (let i = 0; i < n; i++) if (init[b * n + i] !== config.maskTokenId) expect(gpu[b * 65 + 1 + i]).toBe(init[b * n + i]);
    model.dispose();
  });

  for (const ramp of ['constant', 'linear'] as const) {
    it(`classifier-free guidance (${ramp}, scale 3) as one batch of 2B`, async () => {
      const engine = await getEngine();
      const config = smallConfig(8, 32, 9);
      const model = standInModel(engine, config, { seed: 21 });
      const options = { classes: [2, 7], steps: 8, guidance: { scale: 3, ramp }, ...GREEDY };
      const { gpu, host } = await both(model, config, options);
      expect([...gpu]).toEqual([...host]);
      // Guidance changes the result (the stand-in's class term is not negligible).
      const plain = await (await decodeTokens(model, config, { ...options, guidance: { scale: 1 } })).read();
      expect([...plain]).not.toEqual([...gpu]);
      model.dispose();
    });
  }

  it('ties at the cut: the official rule re-masks only what is strictly below, on both', async () => {
    const engine = await getEngine();
    const config = smallConfig(4, 16);
    const tiedPositions = Array.from({ length: 16 }, (_, i) => i + 1); // every image position
    const model = standInModel(engine, config, { seed: 3, tiedPositions });
    const frames: number[] = [];
    const options = { classes: [4, 4], steps: 6, ...GREEDY };
    const { gpu, host } = await both(model, config, {
      ...options,
      frames: true,
      onStep: (info) => {
        frames.push(info.tokens!.filter((t) => t === config.maskTokenId).length);
      },
    });
    expect([...gpu]).toEqual([...host]);
    // All confidences tie: nothing is strictly below the cut, so the first step fills
    // every position (fewer re-masked than mask_len; the live count follows).
    expect(frames[0]).toBe(0);
    model.dispose();
  });

  it('with noise (temperature 1, choice temperature 4.5, top-k, top-p): equal to the reference on the same Philox streams', async () => {
    const engine = await getEngine();
    const config = smallConfig(4, 16, 0);
    const model = standInModel(engine, config, { seed: 8, scale: 1 });
    for (const extra of [{}, { topK: 5 }, { topP: 0.9, sampleTemperature: 0.8 }, { guidance: { scale: 2, ramp: 'linear' as const } }]) {
      const { gpu, host } = await both(model, config, { classes: [1, 2, 3], steps: 12, seeds: 1234, ...extra });
      expect([...gpu], JSON.stringify(extra)).toEqual([...host]);
    }
    model.dispose();
  });
});

describe('decode loop behaviour', () => {
  it('image i of a batch equals a single-image run with seed + i (guided too)', async () => {
    const engine = await getEngine();
    const config = smallConfig(8, 32, 9);
    const model = standInModel(engine, config, { seed: 2, scale: 1 });
    for (const guidance of [undefined, { scale: 2 }]) {
      const batch = await (await decodeTokens(model, config, { classes: [1, 5, 8], seeds: 100, steps: 8, ...(guidance ? { guidance } : {}) })).read();
      for (let i = 0; i < 3; i++) {
        const single = await (await decodeTokens(model, config, { classes: [[1, 5, 8][i]!], seeds: 100 + i, steps: 8, ...(guidance ? { guidance } : {}) })).read();
        expect([...batch.subarray(i * 65, (i + 1) * 65)]).toEqual([...single]);
      }
    }
    // Another seed gives other tokens.
    const a = await (await decodeTokens(model, config, { classes: [1], seeds: 1, steps: 8 })).read();
    const b = await (await decodeTokens(model, config, { classes: [1], seeds: 2, steps: 8 })).read();
    expect([...a]).not.toEqual([...b]);
    model.dispose();
  });

  it('per step: one submit, no readback, no pool growth; the schedule counts on the GPU', async () => {
    const engine = await getEngine();
    const config = smallConfig(16, 64);
    const model = standInModel(engine, config, { seed: 4 });
    const steps = 12;
    const seen: { step: number; submits: number; readbacks: number; allocations: number; bytesInUse: number; masked: number[] }[] = [];
    await engine.sync();
    const before = engine.stats();
    const result = await decodeTokens(model, config, {
      classes: [3, 4],
      steps,
      onStep: (info) => {
        const s = engine.stats();
        seen.push({ step: info.step, submits: s.submits, readbacks: s.readbacks, allocations: s.pool.allocations, bytesInUse: s.pool.bytesInUse, masked: info.masked });
      },
    });
    const after = engine.stats();
    expect(seen.map((s) => s.step)).toEqual([...Array(steps).keys()]);
    expect(after.readbacks - before.readbacks).toBe(0);
    expect(after.submits - before.submits).toBeLessThanOrEqual(steps);
    for (let k = 1; k < seen.length; k++) {
      expect(seen[k]!.submits - seen[k - 1]!.submits, `step ${k}`).toBeLessThanOrEqual(1);
      expect(seen[k]!.readbacks).toBe(seen[0]!.readbacks);
      expect(seen[k]!.allocations, `pool allocations at step ${k}`).toBe(seen[0]!.allocations);
      expect(seen[k]!.bytesInUse, `bytes in use at step ${k}`).toBe(seen[0]!.bytesInUse);
    }
    expect(seen.map((s) => s.masked[0])).toEqual([253, 247, 236, 221, 203, 181, 155, 127, 97, 66, 33, 0]); // REFERENCE.md, N0 = 256, T = 12
    result.dispose();
    model.dispose();
  });
});

describe('decode options', () => {
  it('frames: the sketch and the re-masked tokens of every step; output "image"; GPU initialTokens', async () => {
    const engine = await getEngine();
    const config = smallConfig(8, 32);
    const model = standInModel(engine, config, { seed: 6 });
    const masked: number[] = [];
    const sketches: Int32Array[] = [];
    const before = engine.stats().readbacks;
    const seq = await decodeTokens(model, config, {
      classes: [2],
      steps: 8,
      seeds: 5,
      frames: true,
      onStep: (info) => {
        masked.push(info.tokens!.filter((t) => t === config.maskTokenId).length);
        expect(info.sketch!.every((t) => t !== config.maskTokenId)).toBe(true);
        sketches.push(info.sketch!);
      },
    });
    expect(engine.stats().readbacks - before).toBe(8); // one per step, as asked
    expect(masked).toEqual([62, 59, 53, 45, 35, 24, 12, 0]); // the cosine schedule for N0 = 64 (no ties with noise)
    const final = await seq.read();
    expect([...sketches[7]!]).toEqual([...final]);
    // The same decode returning image tokens only.
    const image = await decodeTokens(model, config, { classes: [2], steps: 8, seeds: 5, output: 'image' });
    expect(image.shape).toEqual([1, 64]);
    expect([...(await image.read())]).toEqual([...final.subarray(1)]);
    // Editing from tokens already on the GPU (N0 read back once, or given).
    const init = Int32Array.from(final.subarray(1));
    for (let i = 20; i < 40; i++) init[i] = config.maskTokenId;
    const onGpu = engine.tensor(init, [1, 64], 'i32');
    const fromHost = await (await decodeTokens(model, config, { classes: [2], steps: 12, startStep: 2, seeds: 9, initialTokens: init })).read();
    const fromGpu = await (await decodeTokens(model, config, { classes: [2], steps: 12, startStep: 2, seeds: 9, initialTokens: onGpu })).read();
    const fromGpuCounted = await (await decodeTokens(model, config, { classes: [2], steps: 12, startStep: 2, seeds: 9, initialTokens: onGpu, unknownCounts: [20] })).read();
    expect([...fromGpu]).toEqual([...fromHost]);
    expect([...fromGpuCounted]).toEqual([...fromHost]);
    model.dispose();
  });

  it('rejects bad options with ArgumentError', async () => {
    const engine = await getEngine();
    const config = smallConfig(4, 16);
    const model = standInModel(engine, config);
    const bad: Partial<DecodeOptions>[] = [
      { classes: [] },
      { classes: [10] },
      { classes: [1], guidance: { scale: 2 } }, // no null class in this config
      { classes: [1], steps: 0 },
      { classes: [1], steps: 8, startStep: 8 },
      { classes: [1], schedule: 'quadratic' as MaskSchedule },
      { classes: [1], sampleTemperature: -1 },
      { classes: [1], topP: 0 },
      { classes: [1], topK: 2.5 },
      { classes: [1], choiceTemperature: Infinity },
      { classes: [1, 2], seeds: [1] },
      { classes: [1], initialTokens: new Int32Array(16).fill(16) }, // a class id is not an image token
    ];
    for (const options of bad) {
      await expect(decodeTokens(model, config, { classes: [1], ...options }), JSON.stringify(options)).rejects.toThrow(ArgumentError);
    }
    model.dispose();
  });
});
