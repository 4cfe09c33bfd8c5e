// Fuzzing model configs and the model-folder loader: config.json mutated at the JSON level
// (fields replaced by boundary values, wrong types, huge numbers, deleted, renamed, nested),
// validateConfig given values JSON cannot hold (NaN, Infinity, undefined), and whole model
// folders (config.json and model.safetensors mutated together) loaded onto the GPU, by URL
// (with and without Content-Length) and from disk. Every case loads or throws the typed error,
// in bounded time, and the GPU pool is back at its baseline after each one.
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ArgumentError,
  CheckpointError,
  imageTokenCount,
  loadModelWeights,
  modelContents,
  modelParamSpecs,
  officialConfig,
  parseModelConfig,
  validateConfig,
  type MaskGITConfig,
  type ModelFolderConfig,
} from '../src/node.js';
import { getEngine } from './helpers/engine.js';
import { folderFiles, folderSpec, memoryFetch } from './helpers/folder-mutations.js';
import { fuzz, fuzzRuns, jsonMutation, mutateJson, mutations, sometimes, type JsonMutation } from './helpers/fuzz.js';
import { TINY_MODEL_CONFIG } from './helpers/model-versions.js';

const work = mkdtempSync(join(tmpdir(), 'maskgit-fuzz-config-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const tiny = TINY_MODEL_CONFIG;

const bases: ModelFolderConfig[] = [tiny, { ...officialConfig(256), contents: ['transformer'] }, { ...officialConfig(512), dtype: 'f16' }];

/** Checks what a config that passed validation implies: finite, bounded parameter shapes. */
function checkImplied(config: MaskGITConfig, parts = modelContents(config)): void {
  const specs = modelParamSpecs(config, parts);
  for (const s of specs) {
    if (!s.shape.every((d) => Number.isSafeInteger(d) && d > 0)) throw new Error(`validated config implies ${s.name} [${s.shape.join(', ')}]`);
  }
  if (!Number.isSafeInteger(imageTokenCount(config))) throw new Error(`validated config implies ${imageTokenCount(config)} image tokens`);
}

describe('fuzz: model configs', () => {
  it('config.json texts parse and validate, or throw CheckpointError', async () => {
    const spec = fc.record({
      base: fc.nat(bases.length - 1),
      json: mutations(4, 1, jsonMutation, 4),
      cut: sometimes(1, 9, fc.nat()),
    });
    const report = await fuzz(
      'config-json',
      {
        arbitrary: spec,
        prepare: ({ base, json, cut }) => {
          const text = JSON.stringify(mutateJson(bases[base], json as JsonMutation[]));
          return cut === null ? text : text.slice(0, cut % (text.length + 1));
        },
      },
      (text) => checkImplied(parseModelConfig(text, 'fuzz/config.json')),
      { runs: fuzzRuns(6000), allowed: [CheckpointError] },
    );
    expect(report.accepted).toBeGreaterThan(report.cases * 0.05);
  });

  it('validateConfig takes any object and throws ArgumentError naming the field', async () => {
    const odd = [NaN, Infinity, -Infinity, undefined, -0, 1e-300, 2 ** 60, '8', [8], { n: 8 }, null, true, () => 8, Symbol('x'), 10n];
    const spec = fc.record({ base: fc.nat(bases.length - 1), json: fc.array(jsonMutation, { maxLength: 3 }), odd: fc.array(fc.record({ path: fc.nat(), value: fc.nat(odd.length - 1) }), { minLength: 1, maxLength: 2 }) });
    await fuzz(
      'config-validate',
      spec,
      ({ base, json, odd: edits }) => {
        const config = mutateJson(bases[base], json as JsonMutation[]) as MaskGITConfig;
        // Odd values go where JSON cannot put them: into a random field of a random section.
        for (const e of edits) {
          const sections = [config, config?.transformer, config?.tokenizer].filter((s) => s !== null && typeof s === 'object') as unknown as Record<string, unknown>[];
          if (sections.length === 0) break;
          const section = sections[e.path % sections.length]!;
          const keys = Object.keys(section);
          if (keys.length) section[keys[e.path % keys.length]!] = odd[e.value];
        }
        try {
          validateConfig(config);
        } catch (error) {
          if (error instanceof ArgumentError) expect(error.argument.length).toBeGreaterThan(0);
          throw error;
        }
        // (`contents` is config.json's, checked by parseModelConfig; validateConfig vouches for both parts.)
        checkImplied(config, ['transformer', 'tokenizer']);
      },
      { runs: fuzzRuns(4000), allowed: [ArgumentError] },
    );
  });
});

// ------------------------------------------------------------------ model folders on the GPU

let folderCount = 0;

describe('fuzz: model folders on the GPU', () => {
  it('mutated folders load (every parameter at its shape) or throw CheckpointError; the pool returns to its baseline', async () => {
    const engine = await getEngine();
    await engine.sync();
    const baseline = engine.stats().pool.bytesInUse;
    const report = await fuzz(
      'model-folder',
      { arbitrary: folderSpec, prepare: (c) => ({ c, files: folderFiles(c) }) },
      async ({ c, files }) => {
        let source: string;
        const options = c.dtype ? { dtype: c.dtype as 'f32' | 'f16' | 'auto' } : {};
        if (c.how === 'disk') {
          source = join(work, `m${folderCount++}`);
          mkdirSync(source);
          writeFileSync(join(source, 'config.json'), files.config);
          writeFileSync(join(source, 'model.safetensors'), files.weights);
        } else source = 'https://models.invalid/tiny';
        const fetchOptions = c.how === 'disk' ? {} : { fetch: memoryFetch({ 'config.json': files.config, 'model.safetensors': files.weights }, c.chunk, c.how === 'url'), cache: false as const };
        const loaded = await loadModelWeights(engine, source, { ...options, ...fetchOptions });
        try {
          const specs = modelParamSpecs(loaded.config, loaded.contents);
          expect(loaded.weights.size).toBe(specs.length);
          for (const s of specs) expect([...loaded.weights.get(s.name)!.shape]).toEqual(s.shape);
        } finally {
          for (const t of loaded.weights.values()) t.dispose();
        }
      },
      {
        runs: fuzzRuns(600),
        allowed: [CheckpointError],
        after: async () => {
          await engine.sync();
          expect(engine.stats().pool.bytesInUse).toBe(baseline);
        },
      },
    );
    expect(report.accepted).toBeGreaterThan(report.cases * 0.1);
  });
});
