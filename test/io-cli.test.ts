// `maskgit convert` as users run it (the built CLI in a child process): either order of the
// two checkpoints, progress on stderr, JSON summary, and one-line errors with exit codes.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelWeights, writeFlaxCheckpointFile } from '../src/node.js';
import { getEngine } from './helpers/engine.js';
import { TINY_TOKENIZER, TINY_TRANSFORMER, tokenizerFixture, transformerFixture } from './helpers/flax-fixtures.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

const root = resolve(__dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'maskgit-cli-'));
const tfm = join(work, 'maskgit_tiny_checkpoint');
const tok = join(work, 'tokenizer_tiny_checkpoint');

beforeAll(async () => {
  execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
  await writeFlaxCheckpointFile(tfm, transformerFixture(TINY_TRANSFORMER).tree);
  await writeFlaxCheckpointFile(tok, tokenizerFixture(TINY_TOKENIZER).tree);
}, HANG_GUARD_MS);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { cwd: work, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('maskgit convert', () => {
  it('converts both checkpoints, in either order, with progress on stderr', async () => {
    const r = cli('convert', tok, tfm, '--out', 'models/tiny');
    expect(r.stderr).toMatch(/reading .*tokenizer_tiny_checkpoint: [\d.]+ MiB/);
    expect(r.stderr).toMatch(/writing model.safetensors: [\d.]+ MiB/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^wrote models\/tiny \(transformer \+ tokenizer, [\d.]+M parameters, f32\)/);
    expect(r.stdout).toMatch(/transformer: 2 layers, hidden 12, 3 heads, mlp 20, vocab 22/);
    expect(r.stdout).toMatch(/image 16 px, 5 classes, mask token 21/);
    const engine = await getEngine();
    const loaded = await loadModelWeights(engine, join(work, 'models/tiny'));
    expect(loaded.contents).toEqual(['transformer', 'tokenizer']);
    loaded.weights.forEach((t) => t.dispose());

    const json = cli('--json', 'convert', tfm, tok, '--out', 'models/tiny', '--dtype', 'f16');
    expect(json.status).toBe(0);
    expect(json.stderr).toBe('');
    const summary = JSON.parse(json.stdout);
    expect(summary).toMatchObject({ out: 'models/tiny', contents: ['transformer', 'tokenizer'], dtype: 'f16', imageSize: 16, codebookSize: 16, numClasses: 5 });
    expect(JSON.parse(readFileSync(join(work, 'models/tiny/config.json'), 'utf8')).dtype).toBe('f16');
  });

  it('converts one checkpoint alone into a folder that says what it holds', () => {
    const r = cli('-q', 'convert', tfm, '--out', 'models/tfm', '--codebook-size', '16');
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).toBe('');
    expect(JSON.parse(readFileSync(join(work, 'models/tfm/config.json'), 'utf8')).contents).toEqual(['transformer']);
  });

  it('fails in one line with the fix and the documented exit code', () => {
    const truncated = join(work, 'truncated_checkpoint');
    writeFileSync(truncated, readFileSync(tok).subarray(0, 5000));
    mkdirSync(join(work, 'photos'), { recursive: true });
    writeFileSync(join(work, 'photos/cat.png'), 'meow');
    const cases: [string[], number, RegExp][] = [
      [['convert', tfm], 2, /ArgumentError: --out: is required/],
      [['convert', 'nope', '--out', 'x'], 2, /ArgumentError: checkpoint: nope does not exist/],
      [['convert', tfm, '--out', 'x', '--dtype', 'f64'], 2, /--dtype: must be f32 or f16/],
      [['convert', tfm, '--out', 'x', '--codebook-size', 'many'], 2, /--codebook-size: must be a positive integer/],
      [['convert', tfm, tok, tok, '--out', 'x'], 2, /give one or two checkpoint files, got 3/],
      [['convert', tfm, tok, '--out', 'photos'], 2, /photos exists and is not a model folder/],
      [['convert', truncated, '--out', 'x'], 4, /CheckpointError: .*truncated_checkpoint: truncated Flax checkpoint/],
      [['convert', tok, tok, '--out', 'x'], 4, /CheckpointError: .* are both tokenizers; give one transformer and one tokenizer checkpoint/],
      [['convert', tfm, '--out', 'x'], 4, /cannot hold a codebook of 1024.*--codebook-size/],
    ];
    for (const [args, status, message] of cases) {
      const r = cli('-q', ...args);
      expect(r.status, args.join(' ')).toBe(status);
      expect(r.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    // Nothing was written by the failures.
    expect(spawnSync('ls', ['-A', work], { encoding: 'utf8' }).stdout.split('\n').filter((f) => f === 'x' || f.startsWith('.'))).toEqual([]);
  });
});
