// Long runs in one process. Hundreds of decodeTokens calls (stand-in model), and hundreds of
// generate / inpaint / editBox / outpaint calls of a tiny real MaskGIT (transformer + VQ
// decoder; some generations stopped by an error thrown from the progress callback), options
// varied call to call. After each call every GPU pool is back at its baseline: tensor buffers,
// textures and readback staging buffers in use; after the first rounds of variants no new GPU
// buffer, texture or staging buffer is created and no pipeline is compiled; no wait on the GPU
// is left registered; host memory stays flat: V8's heap, ArrayBuffer storage (a leaked image
// or readback would not show in the heap) and external memory. A deliberately leaking call
// shows that each of these checks fails when its resource leaks (all but the GPU-wait check,
// whose failure needs a wait on the GPU that never ends).
// SOAK_CALLS sets the number of calls of each loop (default 300).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { decodeTokens, defineKernel, editBox, generate, inpaint, ops, outpaint, type DecodeOptions, type Engine, type GenerateOptions, type RGBAImage } from '../src/node.js';
import { getEngine } from './helpers/engine.js';
import { smallConfig, standInModel } from './helpers/standin-model.js';
import { tinyConfig, tinyModel } from './helpers/tiny-maskgit.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

const CALLS = Number(process.env.SOAK_CALLS ?? 300);
const HOST_FROM = 60;

/** A full garbage collection (the flag is set at run time, so the heap can be measured without garbage). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** The host memory the soak compares: V8's heap, ArrayBuffer storage, and external memory (ArrayBuffers, external strings, native objects). */
const HOST_MEASURES = ['heapUsed', 'arrayBuffers', 'external'] as const;
type HostMeasure = (typeof HOST_MEASURES)[number];

interface SoakOptions {
  calls: number;
  /** How many kinds of call take turns: after two rounds of them (2 x variants calls) every pool bucket is filled, and nothing new may be created from then on. */
  variants: number;
  /** Host memory is measured from this call on (by then the JIT and V8's caches have settled). */
  hostFrom: number;
  /** V8's noise per measure, MiB, whatever the call count; past it, less than 4 KB per call. */
  hostNoiseMiB: Record<HostMeasure, number>;
}

/** What the soak found: the first failure of each check (none when the contract held), and the figures. */
interface SoakReport {
  failures: Map<string, string>;
  summary: string;
  hostGrowthMiB: Record<HostMeasure, number>;
}

/** The GPU waits in progress (engine internals; no public stat shows them). */
const waits = (engine: Engine) => (engine as unknown as { waits: Set<unknown> }).waits.size;

/**
 * Runs `call(i)` options.calls times on `engine` and holds every call to the soak's contract
 * (see the top of this file). Returns the failures rather than throwing, so that a leaking
 * call can show which checks catch it.
 */
async function soakRun(engine: Engine, options: SoakOptions, call: (i: number) => Promise<void>): Promise<SoakReport> {
  const failures = new Map<string, string>();
  const check = (name: string, ok: boolean, detail: () => string) => {
    if (!ok && !failures.has(name)) failures.set(name, detail());
  };
  await engine.sync();
  const base = engine.stats();
  const inUse = (s: ReturnType<Engine['stats']>) => ({ 'GPU buffers in use': s.pool.bytesInUse, 'textures in use': s.textures.bytesInUse, 'readback staging in use': s.readback.bytesInUse });
  const created = (s: ReturnType<Engine['stats']>) => ({
    'pipelines compiled': s.pipelinesCompiled,
    'GPU buffers created': s.pool.allocations,
    'GPU buffers held': s.pool.buffersAllocated,
    'textures created': s.textures.allocations,
    'texture bytes held': s.textures.bytesAllocated,
    'readback staging buffers created': s.readback.allocations,
    'readback staging buffers held': s.readback.buffersAllocated,
  });
  const baseline = inUse(base);
  let warm: ReturnType<typeof created> | null = null;
  let hostAtStart: NodeJS.MemoryUsage | null = null;
  const t0 = performance.now();
  for (let i = 0; i < options.calls; i++) {
    await call(i);
    await engine.sync();
    const stats = engine.stats();
    for (const [name, bytes] of Object.entries(inUse(stats))) {
      check(name, bytes === baseline[name as keyof typeof baseline], () => `${bytes} bytes after call ${i}, baseline ${baseline[name as keyof typeof baseline]}`);
    }
    check('GPU waits registered', waits(engine) === 0, () => `${waits(engine)} after call ${i}`);
    if (i === options.hostFrom) {
      collectGarbage();
      hostAtStart = process.memoryUsage();
    }
    if (i === 2 * options.variants - 1) warm = created(stats);
    else if (warm) {
      for (const [name, n] of Object.entries(created(stats))) {
        const before = warm[name as keyof typeof warm];
        check(`${name} after warm-up`, n === before, () => `${n} by call ${i}, ${before} after warm-up`);
      }
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  collectGarbage();
  const host = process.memoryUsage();
  const measured = options.calls - options.hostFrom;
  const hostGrowthMiB = Object.fromEntries(HOST_MEASURES.map((m) => [m, (host[m] - hostAtStart![m]) / 2 ** 20])) as Record<HostMeasure, number>;
  for (const m of HOST_MEASURES) {
    const bound = Math.max(options.hostNoiseMiB[m], measured / 256);
    check(`host ${m}`, hostGrowthMiB[m] < bound, () => `grew ${hostGrowthMiB[m].toFixed(1)} MiB from call ${options.hostFrom} to ${options.calls} (bound ${bound.toFixed(1)} MiB)`);
  }
  const w = warm ?? created(engine.stats());
  const growth = HOST_MEASURES.map((m) => `${m} ${hostGrowthMiB[m].toFixed(1)}`).join(', ');
  const summary = `${options.calls} calls in ${seconds.toFixed(1)} s; after warm-up ${w['pipelines compiled']} pipelines, ${w['GPU buffers held']} GPU buffers, ${w['textures created']} textures, ${w['readback staging buffers held']} staging buffers; host growth from call ${options.hostFrom} (MiB): ${growth}`;
  return { failures, summary, hostGrowthMiB };
}

/** The soak of CALLS calls: every check must hold. */
async function soak(engine: Engine, what: string, variants: number, hostNoiseMiB: Record<HostMeasure, number>, call: (i: number) => Promise<void>): Promise<void> {
  const report = await soakRun(engine, { calls: CALLS, variants, hostFrom: HOST_FROM, hostNoiseMiB }, call);
  console.log(`soak (${what}): ${report.summary}`);
  expect(Object.fromEntries(report.failures)).toEqual({});
}

/** A deterministic 32x32 RGBA test picture (gradients and a disc), for the edits. */
function picture(size: number): RGBAImage {
  const data = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inDisc = (x - size / 2) ** 2 + (y - size / 2) ** 2 < (size / 4) ** 2;
      data.set([(x * 255) / size, inDisc ? 230 : 40, (y * 255) / size, 255], (y * size + x) * 4);
    }
  }
  return { width: size, height: size, data };
}

describe('soak', () => {
  it(`${CALLS} decodes: memory back to baseline after each, buffers and pipelines constant after warm-up`, async () => {
    const engine = await getEngine();
    const config = smallConfig(4, 16, 9);
    const model = standInModel(engine, config, { seed: 3 });
    const n = 16;
    const edit = Int32Array.from({ length: 2 * n }, (_, i) => (i % 3 === 0 ? config.maskTokenId : i % 16));
    const variants: Omit<DecodeOptions, 'seeds'>[] = [
      { classes: [1], steps: 4 },
      { classes: [2, 3], steps: 6, schedule: 'linear' },
      { classes: [4, 5, 6], steps: 3, guidance: { scale: 2 } },
      { classes: [7], steps: 5, frames: true, onStep: () => undefined },
      { classes: [1, 8], steps: 4, output: 'image', topK: 4, topP: 0.9 },
      { classes: [0, 2], steps: 8, startStep: 3, initialTokens: edit, onStep: async () => undefined },
    ];
    // V8's noise here: ~0.5 MiB of heap whatever the call count; a leak of 4 KB per call would show.
    await soak(engine, 'decodes', variants.length, { heapUsed: 1, arrayBuffers: 1, external: 1 }, async (call) => {
      const variant = variants[call % variants.length]!;
      const out = await decodeTokens(model, config, { ...variant, seeds: call });
      const tokens = await out.read();
      out.dispose();
      expect(tokens.length).toBe(variant.classes.length * (variant.output === 'image' ? n : n + 1));
    });
    model.dispose();
  }, HANG_GUARD_MS);

  it(`${CALLS} calls of generate and the edits on a tiny real MaskGIT: memory, buffers and pipelines as for decodes`, async () => {
    const engine = await getEngine();
    const config = tinyConfig({ classes: 10, nullClass: 9 });
    const model = tinyModel(engine, config, 4);
    const S = config.imageSize;
    const n = (S / 4) ** 2;
    const image = picture(S);
    const mask = { width: S, height: S, data: Uint8Array.from({ length: S * S }, (_, p) => (p % S < S / 2 && p < (S * S) / 2 ? 1 : 0)) };
    let progress = 0;
    const generations: Omit<GenerateOptions, 'seed'>[] = [
      { classes: 1, steps: 4 },
      { classes: [2, 3], steps: 6, schedule: 'linear' },
      // Five images: the VQ decoder runs in two chunks.
      { classes: 4, batch: 5, steps: 3, topK: 8, topP: 0.9 },
      { classes: [5], steps: 4, guidance: 2, onProgress: () => void progress++ },
      { classes: [6, 7], steps: 5, frames: true },
      { classes: 8, steps: 4, guidance: { scale: 3, ramp: 'linear' }, sampleTemperature: 0.5, choiceTemperature: 2, onProgress: async () => void progress++ },
    ];
    // The edits, and a generation the caller stops from its progress callback (its memory must come back too).
    const others: ((seed: number) => Promise<unknown>)[] = [
      async (seed) => expect((await inpaint(model, image, mask, { class: 3, steps: 4, batch: 2, seed })).images).toHaveLength(2),
      async (seed) => expect((await editBox(model, image, { top: 5, left: 9, height: 10, width: 13 }, 1, { seed, guidance: 1.5 })).images).toHaveLength(1),
      async (seed) => expect((await outpaint(model, image, { side: seed % 2 ? 'right' : 'bottom', amount: 12, class: 2, steps: 4, seed })).images).toHaveLength(1),
      (seed) => {
        const stop = ({ step }: { step: number }) => {
          if (step === 3) throw new Error('stopped by the caller');
        };
        return expect(generate(model, { classes: [3, 4], steps: 6, guidance: 2, frames: true, seed, onProgress: stop })).rejects.toThrow('stopped by the caller');
      },
    ];
    const variants = generations.length + others.length;
    // V8's noise here: up to ~0.7 MiB, flat from 250 to 1000 calls (measured); 2 MiB over the
    // default 240 measured calls catches a leak of 9 KB per call: less than one result's images.
    await soak(engine, 'calls of generate (6/10), inpaint / editBox / outpaint (3/10) and a generate stopped by its callback (1/10)', variants, { heapUsed: 2, arrayBuffers: 1, external: 1 }, async (call) => {
      const k = call % variants;
      if (k < generations.length) {
        const options = generations[k]!;
        const out = await generate(model, { ...options, seed: call });
        const batch = options.batch ?? (typeof options.classes === 'number' ? 1 : options.classes.length);
        expect(out.images.map((i) => i.data.length)).toEqual(new Array(batch).fill(S * S * 4));
        expect(out.tokens.map((t) => t.length)).toEqual(new Array(batch).fill(n));
        if (options.frames) expect(out.frames!.length).toBe(options.steps);
      } else {
        await others[k - generations.length]!(call);
      }
    });
    expect(progress).toBeGreaterThan(0);
    model.dispose();
  }, HANG_GUARD_MS);

  it('each check fails for a call that leaks what it watches (a short loop per leak)', async () => {
    const engine = await getEngine();
    const x = engine.keep(engine.tensor(Float32Array.from({ length: 1024 }, (_, i) => i), [1024]));
    // A cheap call through every pool: a tensor op, a texture, a readback.
    const honest = async () => {
      const y = ops.add(x, x);
      const texture = engine.textures.acquire({ format: 'rgba32float', dimension: '2d', size: [4, 4, 1] });
      engine.textures.release(texture);
      expect((await y.read())[3]).toBe(6);
      y.dispose();
    };
    // What each leak keeps, and how to free it after its loop.
    const held: (() => void)[] = [];
    const internals = engine as unknown as { readbackPool: { acquire(bytes: number): unknown; release(buffer: unknown): void } };
    const keep = (free: () => void) => void held.push(free);
    const bytes = Buffer.alloc(2 ** 21);
    const leaks: { leak: string; call: (i: number) => void; caughtBy: string[] }[] = [
      {
        leak: 'a tensor',
        call: () => {
          const t = engine.keep(engine.empty([4096]));
          keep(() => t.dispose());
        },
        caughtBy: ['GPU buffers in use', 'GPU buffers created after warm-up', 'GPU buffers held after warm-up'],
      },
      {
        leak: 'a texture',
        call: () => {
          const t = engine.textures.acquire({ format: 'rgba32float', dimension: '2d', size: [8, 8, 1] });
          keep(() => engine.textures.release(t));
        },
        caughtBy: ['textures in use', 'textures created after warm-up', 'texture bytes held after warm-up'],
      },
      {
        leak: 'a readback staging buffer',
        call: () => {
          const b = internals.readbackPool.acquire(4096);
          keep(() => internals.readbackPool.release(b));
        },
        caughtBy: ['readback staging in use', 'readback staging buffers created after warm-up', 'readback staging buffers held after warm-up'],
      },
      { leak: 'a pipeline per call', call: (i) => void engine.pipeline(defineKernel('soak_leak', '@compute @workgroup_size(1) fn main() { _ = ${N}u; }'), { N: i }), caughtBy: ['pipelines compiled after warm-up'] },
      {
        leak: 'JS objects (about 1 MiB of heap a call)',
        call: () => {
          const objects = Array.from({ length: 2 ** 15 }, (_, i) => ({ i }));
          keep(() => objects.length);
        },
        caughtBy: ['host heapUsed'],
      },
      {
        // An image's pixels: ArrayBuffer storage, outside V8's heap.
        leak: 'an ArrayBuffer (1 MiB a call)',
        call: () => {
          const pixels = new Uint8Array(2 ** 20).fill(1);
          keep(() => pixels.length);
        },
        caughtBy: ['host arrayBuffers', 'host external'],
      },
      {
        // A large string made from bytes (one buffer, refilled): Node keeps it outside the heap, and it is no ArrayBuffer.
        leak: 'an external string (2 MiB a call)',
        call: (i) => {
          const text = bytes.fill(97 + (i % 26)).toString('latin1');
          keep(() => text.length);
        },
        caughtBy: ['host external'],
      },
    ];
    const short = { calls: 24, variants: 2, hostFrom: 6, hostNoiseMiB: { heapUsed: 2, arrayBuffers: 1, external: 1 } };
    for (const { leak, call, caughtBy } of leaks) {
      const report = await soakRun(engine, short, async (i) => {
        await honest();
        if (i >= 4) call(i); // from the first call after warm-up
      });
      for (const free of held.splice(0)) free();
      engine.trim();
      expect([...report.failures.keys()].sort(), `${leak}: ${JSON.stringify(Object.fromEntries(report.failures))}`).toEqual([...caughtBy].sort());
    }
    // The honest call alone passes every check.
    const clean = await soakRun(engine, short, honest);
    expect(Object.fromEntries(clean.failures)).toEqual({});
    x.dispose();
  });
});
