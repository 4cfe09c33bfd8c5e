// The tokenizer's training: the differentiable tokenizer against the inference one, the EMA
// codebook against a host implementation, the data stream, a tiny training run that lowers the
// loss, checkpoints and resumes exactly, and the CLI end to end.
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodePNG } from '../src/io/png.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { EmaCodebook } from '../src/maskgit/train/codebook.js';
import { hashInts, TrainingStream, type ImageSet } from '../src/maskgit/train/data.js';
import { runTokenizerTraining, TOKENIZER_PRESETS, type TrainEvent } from '../src/maskgit/train/tokenizer-run.js';
import { TrainableTokenizer } from '../src/maskgit/train/tokenizer-model.js';
import { TokenizerTrainer } from '../src/maskgit/train/tokenizer-trainer.js';
import { constant, initialValues, loadModelWeights, seededUniform, tokenizerParams, VQGANTokenizer, type Engine, type Tensor, type TokenizerConfig } from '../src/node.js';
import { getEngine } from './helpers/engine.js';
import { normal, randomInts, uniform } from './helpers/random.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

const root = resolve(__dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'maskgit-train-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const TINY: TokenizerConfig = { ...TOKENIZER_PRESETS.tiny!, channelMultipliers: [...TOKENIZER_PRESETS.tiny!.channelMultipliers] };

/** Weights with random norms and biases too (no idle affine path). */
function randomTokenizerWeights(engine: Engine, config: TokenizerConfig, seed: number): Map<string, Tensor> {
  const random = seededUniform(seed);
  const out = new Map<string, Tensor>();
  for (const spec of tokenizerParams(config)) {
    let values = initialValues(spec, random);
    if (spec.name.endsWith('.scale')) values = values.map(() => 0.5 + random());
    else if (spec.name.endsWith('.bias')) values = values.map(() => 0.4 * (random() - 0.5));
    else if (spec.name.endsWith('codebook')) values = values.map(() => 2 * random() - 1);
    out.set(spec.name, engine.keep(engine.tensor(values, spec.shape)));
  }
  return out;
}

/** Simple synthetic images: coloured squares and discs on white. */
function shapes(count: number, size: number, seed: number): ImageSet {
  const random = seededUniform(seed);
  const images = new Float32Array(count * size * size * 3).fill(1);
  for (let i = 0; i < count; i++) {
    const color = [random(), random(), random()];
    const [cx, cy, r] = [size * (0.3 + 0.4 * random()), size * (0.3 + 0.4 * random()), size * (0.15 + 0.2 * random())];
    const disc = random() < 0.5;
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const inside = disc ? (x - cx) ** 2 + (y - cy) ** 2 < r * r : Math.abs(x - cx) < r && Math.abs(y - cy) < r;
        if (inside) for (let c = 0; c < 3; c++) images[((i * size + y) * size + x) * 3 + c] = color[c]!;
      }
  }
  return { images, count, size };
}

describe('the differentiable tokenizer', () => {
  it('computes exactly what VQGANTokenizer computes on the same weights (encoder, tokens, decoder)', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    for (const config of [TINY, { ...TINY, channelMultipliers: [1, 2, 2], numResBlocks: 2 }]) {
      const weights = randomTokenizerWeights(engine, config, 3);
      const trainable = new TrainableTokenizer(config, weights);
      const inference = VQGANTokenizer.fromWeights(trainable.weights(), config);
      const [B, H, W] = [2, 16, 12];
      const pixels = engine.tensor(uniform(B * H * W * 3, 5, 0, 1), [B, H, W, 3]);
      const out = trainable.forward(constant(pixels), 0.25);
      // The same kernels in the same order: bit-identical.
      expect([...(await out.latents.value.read())]).toEqual([...(await inference.encoder.forward(pixels).read())]);
      const tokens = inference.encode(pixels);
      expect([...(await out.tokens.read())]).toEqual([...(await tokens.read())]);
      const decoded = await inference.decoder.forward(inference.quantizer.lookup(tokens.reshape([B, H / 4, W / 4]))).read();
      expect([...(await out.reconstruction.value.read())]).toEqual([...decoded]);
      // decode() is the same, clipped to [0, 1].
      expect([...(await inference.decode(tokens.reshape([B, H / 4, W / 4])).read())]).toEqual([...decoded.map((v) => Math.min(1, Math.max(0, v)))]);
      trainable.dispose();
    }
  });
});

describe('the EMA codebook', () => {
  /** Host reference: EMA counts and sums, Laplace-smoothed division, restarts. */
  function hostEma(s: { counts: Float64Array; sums: Float64Array; idle: Uint32Array }, z: Float32Array, t: Int32Array, K: number, D: number, o: { decay: number; eps: number; patience: number }) {
    const n = new Float64Array(K);
    const acc = new Float64Array(K * D);
    t.forEach((k, i) => {
      n[k]! += 1;
      for (let d = 0; d < D; d++) acc[k * D + d]! += z[i * D + d]!;
    });
    for (let k = 0; k < K; k++) {
      s.counts[k] = o.decay * s.counts[k]! + (1 - o.decay) * n[k]!;
      for (let d = 0; d < D; d++) s.sums[k * D + d] = o.decay * s.sums[k * D + d]! + (1 - o.decay) * acc[k * D + d]!;
      s.idle[k] = n[k]! > 0 ? 0 : s.idle[k]! + 1;
    }
    const total = s.counts.reduce((a, b) => a + b, 0);
    const codebook = new Float64Array(K * D);
    const restarted: number[] = [];
    for (let k = 0; k < K; k++) {
      const smoothed = ((s.counts[k]! + o.eps) / (total + K * o.eps)) * total;
      if (o.patience > 0 && s.idle[k]! >= o.patience) restarted.push(k);
      else for (let d = 0; d < D; d++) codebook[k * D + d] = s.sums[k * D + d]! / smoothed;
    }
    return { codebook, restarted };
  }

  it('follows the host reference over several steps, restarting codes left unused', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    for (const [K, D, N] of [[12, 8, 40], [7, 3, 17]] as const) {
      const options = { decay: 0.9, eps: 1e-5, patience: 2 };
      const codebook = engine.tensor(new Float32Array(K * D), [K, D]);
      const ema = new EmaCodebook(codebook, { ...options, seed: 5 });
      const z0 = normal(N * D, 1);
      ema.reseed(engine.tensor(z0, [N, D]), 0);
      // After reseeding every code is one of the latents, with count 1.
      const seeded = await codebook.read();
      for (let k = 0; k < K; k++) {
        const row = [...seeded.subarray(k * D, (k + 1) * D)];
        expect(Array.from({ length: N }, (_, i) => [...z0.subarray(i * D, (i + 1) * D)]).some((zr) => zr.every((v, d) => v === row[d]))).toBe(true);
      }
      const host = { counts: new Float64Array(K).fill(1), sums: Float64Array.from(seeded), idle: new Uint32Array(K) };
      for (let step = 1; step <= 4; step++) {
        const z = normal(N * D, 10 + step);
        // Codes 0 and 1 are never chosen: they go idle and restart after `patience` steps.
        const t = randomInts(N, 20 + step, 2, K);
        ema.update(engine.tensor(z, [N, D]), engine.tensor(t, [N], 'i32'), step);
        const { codebook: expected, restarted } = hostEma(host, z, t, K, D, options);
        const got = await codebook.read();
        for (let k = 0; k < K; k++) {
          if (restarted.includes(k)) {
            // Restarted at one of this batch's latents; the statistics start again from it.
            const row = [...got.subarray(k * D, (k + 1) * D)];
            const j = Array.from({ length: N }, (_, i) => i).find((i) => z.subarray(i * D, (i + 1) * D).every((v, d) => v === row[d]));
            expect(j, `code ${k} at step ${step} restarted at a latent of the batch`).toBeDefined();
            host.counts[k] = 1;
            host.idle[k] = 0;
            for (let d = 0; d < D; d++) host.sums[k * D + d] = row[d]!;
          } else {
            for (let d = 0; d < D; d++) expect(Math.abs(got[k * D + d]! - expected[k * D + d]!), `code ${k}`).toBeLessThan(1e-5 * (1 + Math.abs(expected[k * D + d]!)));
          }
        }
        expect(restarted.length > 0).toBe(step % 2 === 0); // idle 1, 2 (restart), 1, 2 (restart)
        const counts = await ema.counts.read();
        for (let k = 0; k < K; k++) expect(counts[k]).toBeCloseTo(host.counts[k]!, 5);
      }
      ema.dispose();
    }
  });
});

describe('the training stream', () => {
  it('is a function of (seed, step): permutations per epoch, flips and shifts per example', () => {
    const data = shapes(10, 8, 1);
    const a = new TrainingStream(data, 4, 7, { maxShift: 2 });
    const b = new TrainingStream(data, 4, 7, { maxShift: 2 });
    expect(a.batch(5)).toEqual(b.batch(5)); // b has not seen steps 0..4
    expect(a.batch(5)).not.toEqual(new TrainingStream(data, 4, 8).batch(5));
    // Each epoch visits every image once.
    const seen = Array.from({ length: 10 }, (_, g) => a.example(10 + g).image).sort((x, y) => x - y);
    expect(seen).toEqual([...Array(10).keys()]);
    // A flip without shift mirrors the row; a shift fills with white.
    const plain = new TrainingStream(data, 1, 0, { flip: false, maxShift: 0 });
    const e = plain.example(3);
    expect(e).toMatchObject({ flip: false, dx: 0, dy: 0 });
    const per = 8 * 8 * 3;
    expect(plain.batch(3)).toEqual(data.images.slice(e.image * per, (e.image + 1) * per));
    const shifted = new TrainingStream(data, 64, 3, { flip: true, maxShift: 2 });
    const examples = Array.from({ length: 64 }, (_, g) => shifted.example(g));
    expect(new Set(examples.map((x) => x.dx))).toEqual(new Set([-2, -1, 0, 1, 2]));
    expect(examples.some((x) => x.flip) && examples.some((x) => !x.flip)).toBe(true);
    const batch = shifted.batch(0);
    const i = examples.findIndex((x) => x.dx === 2 && x.dy === 0);
    expect([...batch.subarray(i * per, i * per + 6)]).toEqual([1, 1, 1, 1, 1, 1]); // columns 0 and 1 shifted in
    expect(hashInts(1, 2)).not.toBe(hashInts(2, 1));
  });
});

describe('training', () => {
  const data = { train: shapes(24, 16, 11), heldOut: shapes(8, 16, 12) };
  const options = { steps: 12, batchSize: 6, learningRate: 3e-3, warmupSteps: 2, deadCodePatience: 3, seed: 4 };

  it('lowers the reconstruction loss on a handful of images', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const trainer = TokenizerTrainer.create(engine, data, TINY, { ...options, steps: 30 });
    const before = await trainer.evaluate();
    for (let i = 0; i < 30; i++) trainer.trainStep();
    await trainer.flushLog();
    const after = await trainer.evaluate();
    const h = trainer.history.reconstruction;
    expect(h).toHaveLength(30);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(h.slice(-5))).toBeLessThan(0.5 * mean(h.slice(0, 5)));
    expect(after.psnr).toBeGreaterThan(before.psnr + 3);
    expect(after.codesUsed).toBeGreaterThan(1);
    // Training allocates nothing new once warm: GPU memory does not grow with steps.
    await engine.sync();
    const pool = engine.stats().pool.bytesInUse;
    for (let i = 0; i < 3; i++) trainer.trainStep();
    await trainer.flushLog();
    expect(engine.stats().pool.bytesInUse).toBe(pool);
    trainer.dispose();
  });

  it('checkpoints and resumes exactly, across the adversarial start: the same losses and weights as an uninterrupted run', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const events: TrainEvent[] = [];
    // The discriminator starts at step 5, between the two parts' break (7) and the first checkpoint (5).
    const training = { ...options, adversarialStart: 5, adversarialWeight: 0.3, discriminatorFilters: 4 };
    const run = (out: string, extra: { until?: number; resume?: boolean }) =>
      runTokenizerTraining(engine, data, { out, config: TINY, training, evalEvery: 4, sampleEvery: 6, checkpointEvery: 5, logEvery: 3, onEvent: (e) => events.push(e), ...extra });
    const whole = await run(join(work, 'whole'), {});
    const first = await run(join(work, 'parts'), { until: 7 });
    expect(first.trainer.step).toBe(7);
    first.trainer.dispose();
    expect(events.some((e) => e.type === 'done' && !e.finished && e.step === 7)).toBe(true);
    const second = await run(join(work, 'parts'), { resume: true });
    expect(second.trainer.step).toBe(12);
    // Bit-identical losses and weights.
    expect(second.trainer.history).toEqual(whole.trainer.history);
    expect(second.trainer.evals.filter((e) => e.step !== 7)).toEqual(whole.trainer.evals);
    for (const [name, t] of whole.trainer.model.weights()) expect([...(await second.trainer.model.weights().get(name)!.read())], name).toEqual([...(await t.read())]);
    for (const [name, t] of whole.trainer.discriminator!.model.weights()) expect([...(await second.trainer.discriminator!.model.weights().get(name)!.read())], name).toEqual([...(await t.read())]);
    expect(whole.trainer.history.adaptiveWeight.slice(0, 5)).toEqual([0, 0, 0, 0, 0]);
    expect(whole.trainer.history.adaptiveWeight.slice(5).every((w) => w > 0)).toBe(true);
    // The files: checkpoint (model folder + state), the exported tokenizer, curves and samples.
    const out = join(work, 'parts');
    for (const f of ['checkpoint/config.json', 'checkpoint/model.safetensors', 'checkpoint/training-state.safetensors', 'checkpoint/training.json', 'model/config.json', 'model/model.safetensors', 'training/loss.png', 'training/losses.csv', 'training/evals.csv', 'training/history.json', 'training/reconstructions.png', 'training/samples/step-000006.png', 'training/samples/step-000012.png']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(readFileSync(join(out, 'training/losses.csv'), 'utf8').trim().split('\n')).toHaveLength(13);
    const png = decodePNG(readFileSync(join(out, 'training/loss.png')));
    expect(png.width).toBe(900);
    // The exported tokenizer loads (f16) into the inference tokenizer and reconstructs like the trained one.
    const loaded = await loadModelWeights(engine, join(out, 'model'), { dtype: 'f32' });
    expect(loaded.config.contents).toEqual(['tokenizer']);
    expect(loaded.config.dtype).toBe('f16');
    const tokenizer = VQGANTokenizer.fromWeights(loaded.weights, loaded.config.tokenizer);
    const px = engine.tensor(data.heldOut.images.subarray(0, 2 * 16 * 16 * 3), [2, 16, 16, 3]);
    const mine = await second.trainer.tokenizer().decode(second.trainer.tokenizer().encode(px)).read();
    const theirs = await tokenizer.decode(tokenizer.encode(px)).read();
    const diff = mine.reduce((m, v, i) => Math.max(m, Math.abs(v - theirs[i]!)), 0);
    expect(diff).toBeLessThan(0.1); // f16 rounding of the weights can flip a near-tie token; pixels stay close
    second.trainer.dispose();
    whole.trainer.dispose();
    // Resuming needs a checkpoint; a new run refuses a folder that holds one.
    await expect(run(join(work, 'nothing'), { resume: true })).rejects.toThrow(/holds no checkpoint/);
    await expect(run(out, {})).rejects.toThrow(/already holds a training run/);
  });

  it('fine-tunes the decoder alone from a checkpoint: the encoder, the codebook and every token stay, the discriminator carries over', { timeout: HANG_GUARD_MS }, async () => {
    const engine = await getEngine();
    const training = { ...options, steps: 6, adversarialStart: 3, adversarialWeight: 0.3, discriminatorFilters: 4 };
    const quiet = { evalEvery: 100, sampleEvery: 100, checkpointEvery: 100, logEvery: 100 };
    const base = await runTokenizerTraining(engine, data, { out: join(work, 'base'), config: TINY, training, ...quiet });
    const init = join(work, 'base', 'checkpoint');
    const snapshot = async (weights: Map<string, Tensor>) => new Map(await Promise.all([...weights].map(async ([name, t]) => [name, [...(await t.read())]] as const)));
    const before = await snapshot(base.trainer.model.weights());
    const pixels = engine.tensor(data.heldOut.images, [data.heldOut.count, 16, 16, 3]);
    const tokensBefore = [...(await base.trainer.tokenizer().encode(pixels).read())];
    const psnrBefore = (await base.trainer.evaluate()).psnr;
    // until 0: the run opens from the checkpoint's weights and discriminator, at step 0.
    const decoderRun = { out: join(work, 'decoder'), init, training: { ...training, steps: 12, decoderOnly: true, adversarialStart: 0 }, ...quiet };
    const { trainer } = await runTokenizerTraining(engine, data, { ...decoderRun, until: 0 });
    expect(await snapshot(trainer.model.weights())).toEqual(before);
    for (const [name, t] of base.trainer.discriminator!.model.weights()) expect([...(await trainer.discriminator!.model.weights().get(name)!.read())], name).toEqual([...(await t.read())]);
    expect([...trainer.model.params.keys()].every((name) => name.startsWith('tokenizer.decoder.'))).toBe(true);
    for (let i = 0; i < 12; i++) trainer.trainStep();
    await trainer.flushLog();
    const after = await snapshot(trainer.model.weights());
    for (const [name, values] of before) {
      if (name.startsWith('tokenizer.decoder.')) expect(after.get(name), name).not.toEqual(values);
      else expect(after.get(name), name).toEqual(values); // encoder and codebook: bit for bit
    }
    expect([...(await trainer.tokenizer().encode(pixels).read())]).toEqual(tokensBefore);
    expect((await trainer.evaluate()).psnr).toBeGreaterThan(psnrBefore);
    expect(trainer.record()).toMatchObject({ initializedFrom: init, options: { decoderOnly: true } });
    trainer.dispose();
    base.trainer.dispose();
    // Decoder-only training needs weights to start from; --init starts a new run only.
    expect(() => TokenizerTrainer.create(engine, data, TINY, { ...training, decoderOnly: true })).toThrow(/--init/);
    await expect(runTokenizerTraining(engine, data, { ...decoderRun, out: join(work, 'base'), resume: true })).rejects.toThrow(/--init: starts a new run/);
    await expect(runTokenizerTraining(engine, data, { ...decoderRun, out: join(work, 'other'), config: { ...TINY, codebookSize: 32 } })).rejects.toThrow(/leave out --config/);
  });
});

describe('maskgit train-tokenizer', () => {
  it('trains a tiny config end to end, resumes, and fails in one line with exit codes', { timeout: HANG_GUARD_MS }, () => {
    execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { cwd: work, encoding: 'utf8' });
    const common = ['--config', 'tiny', '--sets', 'twitter', '--max-images', '24', '--batch', '4', '--steps', '6', '--eval-every', '3', '--sample-every', '3', '--checkpoint-every', '3', '--log-every', '2'];
    const r = cli('--json', 'train-tokenizer', '--out', 'run', ...common, '--until', '3');
    expect(r.status, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as TrainEvent);
    expect(events[0]).toMatchObject({ type: 'start', step: 0, steps: 6, until: 3, resumed: false, trainImages: 24, heldOutImages: 24 });
    expect(events.filter((e) => e.type === 'log').map((e) => e.step)).toEqual([2, 3]);
    expect(events[events.length - 1]).toMatchObject({ type: 'done', step: 3, finished: false });
    const again = cli('train-tokenizer', '--out', 'run', '--resume', '--sets', 'twitter', '--max-images', '24', '--eval-every', '3', '--sample-every', '3', '--checkpoint-every', '3');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/resuming a tokenizer of 0\.\d+M parameters on 24 images \(24 held out\): step 3 -> 6 of 6/);
    expect(again.stdout).toMatch(/^trained step 6 of 6 in [\d.]+ min of training/);
    expect(again.stdout).toMatch(/held-out PSNR [\d.]+ dB \(24 images\)/);
    const config = JSON.parse(readFileSync(join(work, 'run/model/config.json'), 'utf8'));
    expect(config).toMatchObject({ contents: ['tokenizer'], dtype: 'f16', imageSize: 32, codebookSize: 16, numClasses: 9 });
    expect(config.tokenizer).toEqual(TINY);
    // The decoder fine-tuned from that run's checkpoint: the exported encoder and codebook are the run's, byte for byte.
    const dec = cli('--json', 'train-tokenizer', '--out', 'dec', '--init', 'run/checkpoint', '--decoder-only', '--sets', 'twitter', '--max-images', '24', '--batch', '4', '--steps', '2', '--log-every', '2');
    expect(dec.status, dec.stderr).toBe(0);
    const start = JSON.parse(dec.stdout.split('\n')[0]!) as Extract<TrainEvent, { type: 'start' }>;
    expect(start).toMatchObject({ type: 'start', step: 0, steps: 2, resumed: false, decoderOnly: true, initializedFrom: 'run/checkpoint' });
    expect(start.trainedParameters).toBeGreaterThan(0);
    expect(start.trainedParameters).toBeLessThan(start.parameters);
    const exported = (dir: string) => decodeSafetensors(readFileSync(join(work, dir, 'model/model.safetensors'))).tensors;
    const [trained, tuned] = [exported('run'), exported('dec')];
    for (const [name, t] of trained) {
      if (name.startsWith('tokenizer.decoder.')) continue;
      expect(Buffer.from(tuned.get(name)!.bytes).equals(Buffer.from(t.bytes)), name).toBe(true);
    }
    expect(Buffer.from(tuned.get('tokenizer.decoder.conv_out.weight')!.bytes).equals(Buffer.from(trained.get('tokenizer.decoder.conv_out.weight')!.bytes))).toBe(false);
    const cases: [string[], number, RegExp][] = [
      [['train-tokenizer'], 2, /ArgumentError: --out: is required/],
      [['train-tokenizer', '--out', 'x', '--config', 'huge'], 2, /--config: must be one of tiny, small, base/],
      [['train-tokenizer', '--out', 'x', '--steps', 'many'], 2, /--steps: must be an integer >= 1/],
      [['train-tokenizer', '--out', 'x', '--sets', 'msn'], 2, /--sets: unknown set "msn"/],
      [['train-tokenizer', '--out', 'x', '--adversarial-weight=-1'], 2, /--adversarial-weight: must be a number >= 0, got "-1"/],
      [['train-tokenizer', '--out', 'x', '--l1', '0', '--l2', '0', '--sets', 'twitter', '--max-images', '8'], 2, /the L1 and L2 weights are both 0/],
      [['train-tokenizer', '--out', 'run', ...common], 2, /already holds a training run/],
      [['train-tokenizer', '--out', 'run', '--resume', '--batch', '8', '--sets', 'twitter', '--max-images', '24'], 2, /batchSize: the checkpoint was trained with 4, not 8/],
      [['train-tokenizer', '--out', 'x', '--decoder-only'], 2, /--decoder-only: needs --init DIR/],
      [['train-tokenizer', '--out', 'run', '--resume', '--init', 'run/checkpoint'], 2, /--init: starts a new run/],
      [['train-tokenizer', '--out', 'y', '--init', 'nowhere', '--sets', 'twitter', '--max-images', '8'], 4, /nowhere/],
    ];
    for (const [args, status, message] of cases) {
      const res = cli('-q', ...args);
      expect(res.status, args.join(' ')).toBe(status);
      expect(res.stderr.split('\n').filter((l) => l && !l.startsWith('Warning:')), args.join(' ')).toHaveLength(1);
      expect(res.stderr, args.join(' ')).toMatch(message);
    }
    const help = cli('train-tokenizer', '--help');
    expect(help.stdout).toMatch(/Examples:/);
    expect(help.stdout).toMatch(/--resume/);
  });
});
