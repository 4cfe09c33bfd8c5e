// `maskgit train` end to end in child processes, on a tiny transformer over a tiny tokenizer: the
// run folder it writes, a run stopped with --until and resumed that equals an uninterrupted one
// bit for bit, and an exported model/ that loadMaskGIT + generate use as it is.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodePNG } from '../src/io/png.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { NULL_CLASS_NAME, type MVTMEvent } from '../src/maskgit/train/transformer-run.js';
import { TOKENIZER_PRESETS } from '../src/maskgit/train/tokenizer-run.js';
import { tokenizerOnlyConfig } from '../src/maskgit/train/tokenizer-trainer.js';
import { generate, initialValues, loadMaskGIT, seededUniform, tokenizerParams, writeModelFolder, type TensorBytes } from '../src/node.js';
import { getEngine } from './helpers/engine.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

const root = resolve(__dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'maskgit-train-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * A tiny 32 px tokenizer folder with random weights (a codebook spread wide enough that images
 * use many codes); the parameters `changed` names are shifted by 0.01 (another decoder, say).
 */
async function tinyTokenizerFolder(dir: string, changed: (name: string) => boolean = () => false): Promise<void> {
  const tokenizer = { ...TOKENIZER_PRESETS.tiny!, channelMultipliers: [...TOKENIZER_PRESETS.tiny!.channelMultipliers] };
  const random = seededUniform(4);
  const tensors: TensorBytes[] = tokenizerParams(tokenizer).map((spec) => {
    const values = initialValues(spec, random);
    if (spec.name.endsWith('codebook')) values.forEach((v, i) => (values[i] = v * 25));
    if (changed(spec.name)) values.forEach((v, i) => (values[i] = v + 0.01));
    return { name: spec.name, dtype: 'F32', shape: [...spec.shape], data: new Uint8Array(values.buffer) };
  });
  await writeModelFolder(dir, tokenizerOnlyConfig(tokenizer, { imageSize: 32, dtype: 'f32' }), tensors);
}

describe('maskgit train', () => {
  it('writes a run folder, resumes bit for bit, and exports a model that loads and generates', { timeout: HANG_GUARD_MS }, async () => {
    execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
    await tinyTokenizerFolder(join(work, 'tok'));
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { cwd: work, encoding: 'utf8' });
    const data = ['--sets', 'twitter', '--max-images', '16'];
    const common = ['--config', 'tiny', ...data, '--batch', '4', '--steps', '6', '--lr', '3e-3', '--warmup', '2', '--eval-every', '3', '--sample-every', '3', '--checkpoint-every', '3', '--log-every', '1', '--samples-per-class', '1'];

    // Uninterrupted.
    const r = cli('--json', 'train', '--tokenizer', 'tok', '--out', 'whole', ...common);
    expect(r.status, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as MVTMEvent);
    // 16 training images and their mirror images; 16 held out.
    expect(events[0]).toMatchObject({ type: 'start', step: 0, steps: 6, until: 6, resumed: false, trainExamples: 32, heldOutExamples: 16 });
    const logs = events.filter((e): e is Extract<MVTMEvent, { type: 'log' }> => e.type === 'log');
    expect(logs.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const e of logs) expect(e.loss).toBeGreaterThan(0);
    expect(events.filter((e) => e.type === 'eval').map((e) => e.step)).toEqual([3, 6]);
    expect(events[events.length - 1]).toMatchObject({ type: 'done', step: 6, finished: true });
    for (const f of ['tokens.safetensors', 'checkpoint/config.json', 'checkpoint/training-state.json', 'checkpoint/training-state.safetensors', 'training/loss.png', 'training/losses.csv', 'training/evals.csv', 'training/history.json', 'training/samples/step-000003.png', 'training/samples.png']) {
      expect(existsSync(join(work, 'whole', f)), f).toBe(true);
    }
    const losses = readFileSync(join(work, 'whole/training/losses.csv'), 'utf8').trim().split('\n');
    expect(losses).toHaveLength(7);
    expect(losses.slice(1).map((l) => Number(l.split(',')[1]))).toEqual(logs.map((e) => e.loss));
    const config = JSON.parse(readFileSync(join(work, 'whole/model/config.json'), 'utf8'));
    const classes = config.numClasses as number;
    expect(config).toMatchObject({ contents: ['transformer', 'tokenizer'], dtype: 'f16', imageSize: 32, codebookSize: 16, nullClassId: classes - 1, maskTokenId: 16 + classes });
    expect(config.classNames).toHaveLength(classes);
    expect(config.classNames[classes - 1]).toBe(NULL_CLASS_NAME);
    expect(config.transformer).toMatchObject({ hiddenSize: 32, numLayers: 2, vocabSize: 16 + classes + 1, maxPositions: 65 });
    // One row per real class, one image each (32 px enlarged x2, 2 px gaps).
    const grid = decodePNG(readFileSync(join(work, 'whole/training/samples.png')));
    expect(grid.height).toBe(2 * ((classes - 1) * 34 - 2));

    // Stopped at step 3 and resumed: the same losses and bit-identical weights.
    const first = cli('-q', 'train', '--tokenizer', 'tok', '--out', 'parts', ...common, '--until', '3');
    expect(first.status, first.stderr).toBe(0);
    expect(existsSync(join(work, 'parts/model/config.json'))).toBe(true);
    const second = cli('train', '--out', 'parts', '--resume', ...data, '--eval-every', '3', '--sample-every', '3', '--checkpoint-every', '3', '--log-every', '1', '--samples-per-class', '1');
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/resuming a transformer of 0\.\d+M parameters by MVTM on 32 examples \(16 held out\): step 3 -> 6 of 6/);
    expect(second.stdout).toMatch(/^trained step 6 of 6 in [\d.]+ min of training/);
    expect(readFileSync(join(work, 'parts/training/losses.csv'), 'utf8')).toBe(readFileSync(join(work, 'whole/training/losses.csv'), 'utf8'));
    for (const f of ['model/model.safetensors', 'checkpoint/model.safetensors', 'checkpoint/training-state.safetensors', 'tokens.safetensors']) {
      expect(readFileSync(join(work, 'parts', f)).equals(readFileSync(join(work, 'whole', f))), f).toBe(true);
    }

    // A decoder fine-tuned since (same encoder and codebook) replaces the run's on resume: into
    // the checkpoint and model/ at once. Another encoder is refused (its tokens would differ).
    await tinyTokenizerFolder(join(work, 'tok-decoder'), (name) => name.startsWith('tokenizer.decoder.'));
    await tinyTokenizerFolder(join(work, 'tok-encoder'), (name) => name === 'tokenizer.encoder.conv_in.weight');
    const swapped = cli('-q', 'train', '--out', 'parts', '--resume', '--tokenizer', 'tok-decoder', ...data);
    expect(swapped.status, swapped.stderr).toBe(0);
    const tensorsOf = (file: string) => decodeSafetensors(readFileSync(join(work, file))).tensors;
    const [tuned, run] = [tensorsOf('tok-decoder/model.safetensors'), tensorsOf('parts/checkpoint/model.safetensors')];
    for (const [name, t] of tuned) expect(Buffer.from(run.get(name)!.bytes).equals(Buffer.from(t.bytes)), name).toBe(true);
    expect(readFileSync(join(work, 'parts/checkpoint/model.safetensors')).equals(readFileSync(join(work, 'whole/checkpoint/model.safetensors')))).toBe(false);
    const refused = cli('-q', 'train', '--out', 'parts', '--resume', '--tokenizer', 'tok-encoder', ...data);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/--tokenizer: tok-encoder has another tokenizer\.encoder\.conv_in\.weight than the run's tokenizer/);

    // The exported model is a complete MaskGIT.
    const engine = await getEngine();
    const model = await loadMaskGIT(engine, join(work, 'whole/model'));
    expect(model.dtype).toBe('f16');
    const { images, tokens } = await generate(model, { classes: [0, 1, classes - 1], seed: 3, steps: 4 });
    expect(images.map((im) => [im.width, im.height])).toEqual([[32, 32], [32, 32], [32, 32]]);
    for (const t of tokens) {
      expect(t).toHaveLength(64);
      for (const v of t) expect(v >= 0 && v < 16).toBe(true);
    }
    model.dispose();

    const cases: [string[], RegExp][] = [
      [['train', '--out', 'x', ...data], /--tokenizer: is required for a new run/],
      [['train', '--tokenizer', 'tok', '--out', 'x', '--config', 'huge'], /--config: must be one of tiny, small, base/],
      [['train', '--tokenizer', 'tok', '--out', 'whole', ...common], /already holds a training run/],
      [['train', '--out', 'whole', '--resume', '--batch', '8', ...data], /batchSize: the checkpoint was trained with 4, not 8/],
      [['train', '--out', 'nothing', '--resume', ...data], /--resume: nothing holds no checkpoint to resume/],
    ];
    for (const [args, message] of cases) {
      const res = cli('-q', ...args);
      expect(res.status, args.join(' ')).toBe(2);
      expect(res.stderr.split('\n').filter((l) => l && !l.startsWith('Warning:')), args.join(' ')).toHaveLength(1);
      expect(res.stderr, args.join(' ')).toMatch(message);
    }
  });
});
