// The official 256 px sizes: random weights in the official Flax trees (172M + 54.5M
// parameters) -> convert -> load on the GPU, each measured in a fresh process (time, peak
// RSS, the engine pool's peak). Slow (minutes on lavapipe), so it runs only when asked:
//   MASKGIT_OFFICIAL=1 npx vitest run test/io-official.test.ts
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModelWeights, officialConfig, writeFlaxCheckpointFile } from '../src/node.js';
import { getEngine } from './helpers/engine.js';
import { OFFICIAL_TOKENIZER_SIZES, OFFICIAL_TRANSFORMER_SIZES, tokenizerFixture, transformerFixture } from './helpers/flax-fixtures.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

const root = resolve(__dirname, '..');
const work = process.env.MASKGIT_OFFICIAL ? mkdtempSync(join(tmpdir(), 'maskgit-official-')) : '';
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function measure(...args: string[]): Record<string, number | string> {
  const out = execFileSync(process.execPath, [join(root, 'scripts/measure-model.mjs'), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').pop()!);
}

describe.skipIf(!process.env.MASKGIT_OFFICIAL)('official 256 px checkpoints', () => {
  it('convert and load, measured', { timeout: HANG_GUARD_MS }, async () => {
    execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
    const transformer = transformerFixture(OFFICIAL_TRANSFORMER_SIZES, 11);
    const tokenizer = tokenizerFixture(OFFICIAL_TOKENIZER_SIZES, 12);
    const tfmFile = join(work, 'maskgit_imagenet256_checkpoint');
    const tokFile = join(work, 'tokenizer_imagenet256_checkpoint');
    await writeFlaxCheckpointFile(tfmFile, transformer.tree);
    await writeFlaxCheckpointFile(tokFile, tokenizer.tree);
    const mib = (f: string) => Math.round(statSync(f).size / 2 ** 20);
    console.log(`flax checkpoints: transformer ${mib(tfmFile)} MiB, tokenizer ${mib(tokFile)} MiB`);

    const dir = join(work, 'maskgit-256');
    const converted = measure('convert', dir, tokFile, tfmFile);
    console.log('convert', JSON.stringify(converted), `model.safetensors ${mib(join(dir, 'model.safetensors'))} MiB`);
    for (const dtype of ['f32', 'f16']) console.log('load', JSON.stringify(measure('load', dir, dtype)));
    const dir16 = join(work, 'maskgit-256-f16');
    console.log('convert --dtype f16', JSON.stringify(measure('convert', dir16, tokFile, tfmFile, '--dtype', 'f16')));
    console.log('load f16 folder', JSON.stringify(measure('load', dir16)));

    // The loaded tensors are the fixture's, exactly (spot checks across the model).
    const engine = await getEngine();
    const loaded = await loadModelWeights(engine, dir);
    expect(loaded.config).toMatchObject({ ...officialConfig(256), contents: ['transformer', 'tokenizer'] });
    for (const name of ['transformer.layers.23.attn.qkv.weight', 'transformer.layers.7.attn.out.weight', 'transformer.head.bias', 'tokenizer.decoder.up.4.upsample.weight', 'tokenizer.decoder.conv_out.weight', 'tokenizer.quantizer.codebook']) {
      const want = (transformer.expected.get(name) ?? tokenizer.expected.get(name))!.values;
      const got = await loaded.weights.get(name)!.read();
      expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer)), name).toBe(true);
    }
    loaded.weights.forEach((t) => t.dispose());
  });
});
