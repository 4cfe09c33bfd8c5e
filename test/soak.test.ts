// A long run in one process: hundreds of decodeTokens calls (stand-in model, small sizes,
// options varied call to call). After each call the pool's memory in use is back at its
// baseline; after the first round of variants no new GPU buffer is created and no pipeline is
// compiled; no wait on the GPU is left registered; host memory stays flat.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { decodeTokens, type DecodeOptions } from '../src/node.js';
import { getEngine } from './helpers/engine.js';
import { smallConfig, standInModel } from './helpers/standin-model.js';

const CALLS = Number(process.env.SOAK_CALLS ?? 300);
const HEAP_FROM = 60;

/** A full garbage collection (the flag is set at run time, so the heap can be measured without garbage). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
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
    await engine.sync();
    const baseline = engine.stats().pool.bytesInUse;
    const waits = () => (engine as unknown as { waits: Set<unknown> }).waits.size;
    let warm: { buffers: number; pipelines: number; allocations: number } | null = null;
    let heapAfterWarmup = 0;
    const t0 = performance.now();
    for (let call = 0; call < CALLS; call++) {
      const variant = variants[call % variants.length]!;
      const out = await decodeTokens(model, config, { ...variant, seeds: call });
      const tokens = await out.read();
      out.dispose();
      expect(tokens.length).toBe(variant.classes.length * (variant.output === 'image' ? n : n + 1));
      await engine.sync();
      const stats = engine.stats();
      expect(stats.pool.bytesInUse, `bytes in use after call ${call}`).toBe(baseline);
      expect(waits(), `GPU waits still registered after call ${call}`).toBe(0);
      if (call === HEAP_FROM) {
        // Host memory is measured from here: by now the JIT and V8's caches have settled.
        collectGarbage();
        heapAfterWarmup = process.memoryUsage().heapUsed;
      }
      if (call === 2 * variants.length - 1) {
        // Two rounds: every variant has run (and every pool bucket it needs has been filled).
        warm = { buffers: stats.pool.buffersAllocated, pipelines: stats.pipelinesCompiled, allocations: stats.pool.allocations };
      } else if (warm) {
        expect(stats.pipelinesCompiled, `pipelines compiled by call ${call}`).toBe(warm.pipelines);
        expect(stats.pool.allocations, `GPU buffers created by call ${call}`).toBe(warm.allocations);
        expect(stats.pool.buffersAllocated, `GPU buffers held after call ${call}`).toBe(warm.buffers);
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    collectGarbage();
    const heapGrowth = process.memoryUsage().heapUsed - heapAfterWarmup;
    console.log(
      `soak: ${CALLS} decodes in ${seconds.toFixed(1)} s; ${warm!.pipelines} pipelines, ${warm!.buffers} GPU buffers after warm-up, unchanged; heap ${(heapGrowth / 2 ** 20).toFixed(1)} MiB from call ${HEAP_FROM} to the end`,
    );
    // Host memory after collection: flat within V8's noise (~0.5 MiB here whatever the call
    // count); a leak of 4 KB per call would show.
    expect(heapGrowth).toBeLessThan(Math.max(1, (CALLS - HEAP_FROM) / 256) * 2 ** 20);
    model.dispose();
  }, 120_000);
});
