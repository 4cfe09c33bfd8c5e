// The autoregressive baseline on a tiny causal transformer: the KV-cached and the uncached
// decode give the same tokens, equal to a plain TypeScript decode over the same logits
// function (greedy, and with Gumbel noise on the same Philox streams); the cached step's
// logits equal the full causal forward's; the forward is causal.
import { describe, expect, it } from 'vitest';
import { CausalTransformer, decodeAutoregressive, imageSeeds, referenceAutoregressive, type Engine } from '../src/node.js';
import { expectClose } from './helpers/compare.js';
import { getEngine } from './helpers/engine.js';
import { randomInts } from './helpers/random.js';
import { tinyConfig, tinyModel } from './helpers/tiny-maskgit.js';

const config = tinyConfig({ imageSize: 32 }); // 64 image tokens, codebook 32, 10 classes, hidden 32, 2 layers, 4 heads

function causalModel(engine: Engine, seed: number) {
  const model = tinyModel(engine, config, seed);
  return { causal: new CausalTransformer(model.weights, config.transformer), dispose: () => model.dispose() };
}

/** Logits of the last position of each prefix, from the causal forward over the whole prefix (read back). */
function prefixLogits(engine: Engine, causal: CausalTransformer) {
  return async (tokens: Int32Array, batch: number, length: number) => {
    const t = engine.tensor(tokens, [batch, length], 'i32');
    const out = causal.forward(t, { logitsColumns: config.codebookSize, lastOnly: true });
    const data = (await out.read()) as Float32Array;
    t.dispose();
    out.dispose();
    return data;
  };
}

describe('autoregressive baseline', () => {
  for (const [name, sampling] of [
    ['temperature 0 (greedy)', { sampleTemperature: 0 }],
    ['temperature 1 with top-k 8 (Gumbel-max on the Philox streams)', { sampleTemperature: 1, topK: 8 }],
  ] as const) {
    it(`cached = uncached = the TypeScript reference, ${name}`, async () => {
      const engine = await getEngine();
      const { causal, dispose } = causalModel(engine, 21);
      const classes = [3, 8];
      const run = async (cache: boolean) => {
        const out = await decodeAutoregressive(causal, config, { classes, seeds: 17, cache, ...sampling });
        const tokens = await out.read();
        out.dispose();
        return tokens;
      };
      const cached = await run(true);
      const uncached = await run(false);
      const reference = await referenceAutoregressive(prefixLogits(engine, causal), classes.map((c) => c + config.codebookSize), 64, config.codebookSize, {
        codebookSize: config.codebookSize,
        maskTokenId: config.maskTokenId,
        seeds: imageSeeds(17, 2),
        ...sampling,
      });
      expect(cached.length).toBe(2 * 64);
      expect([...uncached], 'uncached vs reference').toEqual([...reference]);
      expect([...cached], 'cached vs uncached').toEqual([...uncached]);
      expect(new Set(cached).size, 'distinct tokens').toBeGreaterThan(4);
      dispose();
    });
  }

  it("the cached step's logits equal the full causal forward's at every position", async () => {
    const engine = await getEngine();
    const { causal, dispose } = causalModel(engine, 22);
    const [B, L] = [2, 65];
    const ids = randomInts(B * L, 3, 0, config.codebookSize);
    ids[0] = 1 + config.codebookSize;
    ids[L] = 6 + config.codebookSize;
    const full = await causal.forward(engine.tensor(ids, [B, L], 'i32'), { logitsColumns: 32 }).read();
    const cache = causal.createCache(B, L);
    const stepped = new Float32Array(B * L * 32);
    for (let p = 0; p < L; p++) {
      const token = engine.tensor([ids[p]!, ids[L + p]!], [B, 1], 'i32');
      const logits = await causal.step(cache, token, p, { logitsColumns: 32 }).read();
      for (let b = 0; b < B; b++) stepped.set(logits.subarray(b * 32, (b + 1) * 32), (b * L + p) * 32);
      token.dispose();
    }
    cache.dispose();
    // The same f32 math in another order (one query against the cache vs the causal kernel over
    // the sequence; GEMMs of 1 vs 65 rows): a few ulps of O(1) values through 5 LayerNorms.
    expectClose(stepped, full, { atol: 2e-5, rtol: 1e-4 }, 'cached logits');
    dispose();
  });

  it('is causal: changing later tokens leaves the logits of earlier positions unchanged', async () => {
    const engine = await getEngine();
    const { causal, dispose } = causalModel(engine, 23);
    const ids = randomInts(33, 4, 0, config.codebookSize);
    ids[0] = 2 + config.codebookSize;
    const a = await causal.forward(engine.tensor(ids, [1, 33], 'i32')).read();
    const changed = ids.slice();
    for (let i = 20; i < 33; i++) changed[i] = (changed[i]! + 5) % config.codebookSize;
    const b = await causal.forward(engine.tensor(changed, [1, 33], 'i32')).read();
    const V = config.transformer.vocabSize;
    expect(Buffer.compare(Buffer.from(a.buffer, 0, 20 * V * 4), Buffer.from(b.buffer, 0, 20 * V * 4))).toBe(0);
    expect(Buffer.compare(Buffer.from(a.buffer, 20 * V * 4), Buffer.from(b.buffer, 20 * V * 4))).not.toBe(0);
    dispose();
  });

  it('batch image i equals a single run with seed + i; fewer tokens for measurements', async () => {
    const engine = await getEngine();
    const { causal, dispose } = causalModel(engine, 24);
    const batch = await (await decodeAutoregressive(causal, config, { classes: [1, 4], seeds: 30, tokens: 20 })).read();
    expect(batch.length).toBe(40);
    const second = await (await decodeAutoregressive(causal, config, { classes: [4], seeds: 31, tokens: 20 })).read();
    expect([...second]).toEqual([...batch.subarray(20)]);
    dispose();
  });
});
