import { trainingProgress } from '../progress.js';
import type { Command } from 'commander';
import { ArgumentError } from '../../errors.js';
import { EMOJI_SETS, loadEmojiDataset, parseEmojiSets } from '../../io/emoji.js';
import type { TrainingData } from '../../maskgit/train/tokenizer-trainer.js';
import { RUN_FILES, runTokenizerTraining, TOKENIZER_PRESETS, type TrainEvent } from '../../maskgit/train/tokenizer-run.js';
import { createEngine } from '../../tensor/engine.js';
import type { Output } from '../output.js';

interface TrainTokenizerFlags {
  out?: string;
  config?: string;
  steps?: string;
  until?: string;
  batch?: string;
  lr?: string;
  warmup?: string;
  seed?: string;
  codebookSize?: string;
  l1?: string;
  l2?: string;
  adversarialWeight?: string;
  adversarialStart?: string;
  discriminatorFilters?: string;
  resume?: boolean;
  init?: string;
  decoderOnly?: boolean;
  logEvery: string;
  evalEvery: string;
  evalImages: string;
  sampleEvery: string;
  checkpointEvery: string;
  dtype: string;
  sets: string;
  maxImages?: string;
  size: string;
}

export function integer(name: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new ArgumentError(name, `must be an integer >= ${min}, got "${value}"`);
  return n;
}

export function positiveNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new ArgumentError(name, `must be a positive number, got "${value}"`);
  return n;
}

function nonNegativeNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(value.trim() !== '' && Number.isFinite(n) && n >= 0)) throw new ArgumentError(name, `must be a number >= 0, got "${value}"`);
  return n;
}

/** The first `n` images of a set (all when n is undefined). */
function firstImages(set: { images: Float32Array; count: number }, size: number, n: number | undefined): TrainingData['train'] {
  const count = n === undefined ? set.count : Math.min(n, set.count);
  return { images: set.images.subarray(0, count * size * size * 3), count, size };
}

/** Progress on stderr: a bar on a terminal, a line per log otherwise; JSON lines on stdout with --json. */
function reporter(out: Output): { onEvent: (e: TrainEvent) => void; stop(): void } {
  if (out.quiet) return { onEvent: () => undefined, stop: () => undefined };
  if (out.json) return { onEvent: (e) => process.stdout.write(JSON.stringify(e) + '\n'), stop: () => undefined };
  const progress = trainingProgress(out, 'train [{bar}] {value}/{total} | loss {loss} | psnr {psnr} dB | {rate} ex/s | ETA {eta_formatted}');
  let psnr = '-';
  const onEvent = (e: TrainEvent) => {
    switch (e.type) {
      case 'start':
        progress.start(
          `${e.resumed ? 'resuming' : 'training'} a tokenizer of ${(e.parameters / 1e6).toFixed(2)}M parameters` +
            (e.decoderOnly ? ` (the decoder's ${(e.trainedParameters / 1e6).toFixed(2)}M; encoder and codebook fixed)` : '') +
            (e.initializedFrom !== null && !e.resumed ? ` from ${e.initializedFrom}` : '') +
            ` on ${e.trainImages} images ` +
            `(${e.heldOutImages} held out): step ${e.step} -> ${e.until} of ${e.steps}`,
          e.step,
          e.until,
          { loss: '-', psnr, rate: '-' },
        );
        break;
      case 'log':
        progress.log(
          e.step,
          { loss: e.loss.toFixed(5), psnr, rate: e.examplesPerSecond.toFixed(1) },
          `step ${e.step}/${e.steps}: loss ${e.loss.toFixed(5)} (mse ${e.reconstruction.toFixed(5)}, l1 ${e.l1.toFixed(5)}, commitment ${e.commitment.toFixed(5)}` +
            (e.adaptiveWeight > 0 ? `, adversarial ${e.adversarial.toFixed(4)} x ${e.adaptiveWeight.toExponential(2)}, discriminator ${e.discriminator.toFixed(4)}` : '') +
            `), lr ${e.learningRate.toExponential(2)}, ${e.examplesPerSecond.toFixed(1)} ex/s`,
        );
        break;
      case 'eval':
        psnr = e.psnr.toFixed(2);
        progress.note(
          `step ${e.step}: held-out PSNR ${e.psnr.toFixed(2)} dB over ${e.images} images, sharpness ${e.sharpness.toFixed(3)}, ${e.codesUsed} codes used (perplexity ${e.perplexity.toFixed(1)})`,
        );
        break;
      case 'checkpoint':
        progress.note(`step ${e.step}: checkpoint in ${e.dir}`);
        break;
      case 'sample':
      case 'done':
        break;
    }
  };
  return { onEvent, stop: progress.stop };
}

/**
 * `maskgit train-tokenizer --out DIR`: trains a VQ tokenizer on the emoji images (32 px by
 * default), resumable, with evaluations, sample grids, loss curves and checkpoints in DIR.
 */
export function registerTrainTokenizer(program: Command, output: () => Output): void {
  program
    .command('train-tokenizer')
    .description('train a VQ tokenizer on the emoji images (checkpoints, loss curves and samples in --out)')
    .option('--out <dir>', 'run folder: checkpoint/, model/ (the trained tokenizer) and training/ (curves, samples)')
    .option('--config <name>', `tokenizer size: ${Object.keys(TOKENIZER_PRESETS).join(', ')} (default small)`)
    .option('--steps <n>', 'length of the schedule (total training steps; default 2000)')
    .option('--until <step>', 'stop after this step (checkpointed) and resume later with --resume')
    .option('--batch <n>', 'images per step (default 32)')
    .option('--lr <x>', 'peak learning rate (default 1e-3)')
    .option('--warmup <n>', 'linear warm-up steps (default 100)')
    .option('--seed <n>', 'seed of the weights, the data order and the augmentation (default 0)')
    .option('--codebook-size <n>', "codebook rows (default: the config's)")
    .option('--l1 <w>', 'weight of the L1 reconstruction loss (default 1)')
    .option('--l2 <w>', 'weight of the L2 (mean squared error) reconstruction loss (default 1)')
    .option('--adversarial-weight <w>', 'weight of the adversarial (PatchGAN, hinge) term, times the adaptive weight; 0 turns it off (default 0.1)')
    .option('--adversarial-start <step>', 'step from which the discriminator trains and the adversarial term is on (default 1000)')
    .option('--discriminator-filters <n>', "channels of the discriminator's first layer (default 32)")
    .option('--resume', 'continue the run saved in --out')
    .option('--init <dir>', "start from a trained tokenizer: a model folder, or a run's checkpoint/ (its discriminator too)")
    .option('--decoder-only', 'train the decoder alone (needs --init): the encoder and codebook stay fixed, so the tokens and a transformer trained on them stay valid')
    .option('--log-every <n>', 'steps between loss reports', '10')
    .option('--eval-every <n>', 'steps between held-out evaluations', '250')
    .option('--eval-images <n>', 'held-out images per periodic evaluation (0: all; the last one uses all)', '0')
    .option('--sample-every <n>', 'steps between sample grids', '250')
    .option('--checkpoint-every <n>', 'steps between checkpoints', '250')
    .option('--dtype <dtype>', 'storage of the exported tokenizer (model/): f16 or f32', 'f16')
    .option('--sets <names>', `emoji sets, comma-separated: ${EMOJI_SETS.join(', ')}`, EMOJI_SETS.join(','))
    .option('--max-images <n>', 'use only the first n training and held-out images (quick runs)')
    .option('--size <px>', 'image size: 64, 32, 16 ...', '32')
    .addHelpText(
      'after',
      [
        '',
        `--out gets ${RUN_FILES.checkpoint}/ (a model folder with the f32 weights, optimizer moments, codebook`,
        `statistics and the step, written atomically), ${RUN_FILES.model}/ (the tokenizer alone, for use) and`,
        `${RUN_FILES.training}/ (loss.png, losses.csv, evals.csv, history.json, reconstructions.png, samples/).`,
        'A resumed run continues exactly where the checkpoint left it (same losses as without the break).',
        '',
        'Examples:',
        '  $ maskgit train-tokenizer --out runs/emoji-32 --steps 1500',
        '  $ maskgit train-tokenizer --out runs/emoji-32 --steps 1500 --until 500   # stop at step 500',
        '  $ maskgit train-tokenizer --out runs/emoji-32 --resume                   # ... and go on',
        '  $ maskgit train-tokenizer --out runs/mse --l1 0 --adversarial-weight 0   # L2 + commitment only',
        '  $ maskgit train-tokenizer --out runs/dec --init runs/emoji-32/checkpoint --decoder-only --steps 2000 --lr 3e-4',
        '  $ maskgit --json train-tokenizer --out /tmp/t --config tiny --steps 20 --max-images 64',
      ].join('\n'),
    )
    .action(async (flags: TrainTokenizerFlags) => {
      const out = output();
      if (!flags.out) throw new ArgumentError('--out', 'is required: the run folder (e.g. --out runs/emoji-32)');
      const preset = TOKENIZER_PRESETS[flags.config ?? 'small'];
      if (!preset) throw new ArgumentError('--config', `must be one of ${Object.keys(TOKENIZER_PRESETS).join(', ')}, got "${flags.config}"`);
      if (flags.dtype !== 'f32' && flags.dtype !== 'f16') throw new ArgumentError('--dtype', `must be f32 or f16, got "${flags.dtype}"`);
      const sets = parseEmojiSets(flags.sets, '--sets');
      const codebookSize = integer('--codebook-size', flags.codebookSize);
      const config = { ...preset, channelMultipliers: [...preset.channelMultipliers], ...(codebookSize !== undefined && { codebookSize }) };
      const training = {
        steps: integer('--steps', flags.steps),
        batchSize: integer('--batch', flags.batch),
        learningRate: positiveNumber('--lr', flags.lr),
        warmupSteps: integer('--warmup', flags.warmup, 0),
        seed: integer('--seed', flags.seed, 0),
        l1Weight: nonNegativeNumber('--l1', flags.l1),
        l2Weight: nonNegativeNumber('--l2', flags.l2),
        adversarialWeight: nonNegativeNumber('--adversarial-weight', flags.adversarialWeight),
        adversarialStart: integer('--adversarial-start', flags.adversarialStart, 0),
        discriminatorFilters: integer('--discriminator-filters', flags.discriminatorFilters),
        decoderOnly: flags.decoderOnly,
      };
      if (flags.init !== undefined && flags.resume) throw new ArgumentError('--init', 'starts a new run; --resume continues from the run\'s own checkpoint (leave out --init)');
      if (flags.decoderOnly && flags.init === undefined && !flags.resume) {
        throw new ArgumentError('--decoder-only', "needs --init DIR: the trained tokenizer whose decoder to train (its encoder and codebook stay fixed)");
      }
      const runOptions = {
        out: flags.out,
        resume: !!flags.resume,
        until: integer('--until', flags.until, 0),
        logEvery: integer('--log-every', flags.logEvery)!,
        evalEvery: integer('--eval-every', flags.evalEvery)!,
        evalImages: integer('--eval-images', flags.evalImages, 0)!,
        sampleEvery: integer('--sample-every', flags.sampleEvery)!,
        checkpointEvery: integer('--checkpoint-every', flags.checkpointEvery)!,
        exportDType: flags.dtype,
      } as const;
      const size = integer('--size', flags.size)!;
      const maxImages = integer('--max-images', flags.maxImages);
      const dataset = await loadEmojiDataset({ sets, size });
      const data: TrainingData = { train: firstImages(dataset.train, size, maxImages), heldOut: firstImages(dataset.heldOut, size, maxImages) };
      const engine = await createEngine();
      const report = reporter(out);
      let result: Awaited<ReturnType<typeof runTokenizerTraining>>;
      // Options the user did not give stay undefined: a resumed run keeps the checkpoint's.
      const given = Object.fromEntries(Object.entries(training).filter(([, v]) => v !== undefined));
      try {
        result = await runTokenizerTraining(engine, data, {
          ...runOptions,
          // A resumed or initialised run keeps its architecture unless one is named (then it must match).
          ...((!flags.resume && flags.init === undefined) || flags.config !== undefined || codebookSize !== undefined ? { config } : {}),
          ...(flags.init !== undefined && { init: flags.init }),
          training: given,
          classNames: dataset.classNames,
          onEvent: (e) => {
            report.onEvent(e);
            if (e.type === 'done') {
              report.stop();
              const summary = { out: flags.out, ...e };
              if (out.json) return; // the done event was the last JSON line
              out.result(summary, () =>
                [
                  `${e.finished ? 'trained' : 'stopped at'} step ${e.step} of ${e.steps} in ${(e.trainSeconds / 60).toFixed(1)} min of training (${(e.wallSeconds / 60).toFixed(1)} min in all), ${e.examplesPerSecond.toFixed(1)} examples/s`,
                  e.eval ? `held-out PSNR ${e.eval.psnr.toFixed(2)} dB (${e.eval.images} images), ${e.eval.codesUsed} codes used, perplexity ${e.eval.perplexity.toFixed(1)}` : 'no evaluation yet',
                  ...e.files.map((f) => `  ${f}`),
                ].join('\n'),
              );
            }
          },
        });
      } finally {
        report.stop();
      }
      result.trainer.dispose();
    });
}
