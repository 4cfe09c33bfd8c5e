import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { trainingProgress } from '../progress.js';
import type { Command } from 'commander';
import { ArgumentError } from '../../errors.js';
import { EMOJI_SETS, loadEmojiDataset, type EmojiSet, type LabelledImages } from '../../io/emoji.js';
import { runTransformerTraining, TRANSFORMER_PRESETS, TRANSFORMER_RUN_FILES, type MVTMEvent } from '../../maskgit/train/transformer-run.js';
import { createEngine } from '../../tensor/engine.js';
import type { Output } from '../output.js';
import { integer, positiveNumber } from './train-tokenizer.js';

interface TrainFlags {
  tokenizer?: string;
  out?: string;
  config?: string;
  steps?: string;
  until?: string;
  batch?: string;
  lr?: string;
  warmup?: string;
  seed?: string;
  resume?: boolean;
  logEvery: string;
  evalEvery: string;
  evalImages: string;
  sampleEvery: string;
  checkpointEvery: string;
  samplesPerClass: string;
  dtype: string;
  sets: string;
  maxImages?: string;
}

/** The first `n` images of a labelled set (all when n is undefined). */
function firstLabelled(set: LabelledImages, size: number, n: number | undefined): LabelledImages {
  const count = n === undefined ? set.count : Math.min(n, set.count);
  return { images: set.images.subarray(0, count * size * size * 3), labels: set.labels.subarray(0, count), ids: set.ids.slice(0, count), count };
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '-';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Progress on stderr: a bar on a terminal, a line per log otherwise; JSON lines on stdout with --json. */
function reporter(out: Output): { onEvent: (e: MVTMEvent) => void; stop(): void } {
  if (out.quiet) return { onEvent: () => undefined, stop: () => undefined };
  if (out.json) return { onEvent: (e) => e.type !== 'tokenize' && process.stdout.write(JSON.stringify(e) + '\n'), stop: () => undefined };
  const progress = trainingProgress(out, 'train [{bar}] {value}/{total} | loss {loss} | held-out acc {acc} | lr {lr} | {rate} ex/s | ETA {eta_formatted}');
  let accuracy = '-';
  let tokenized = -1;
  const onEvent = (e: MVTMEvent) => {
    switch (e.type) {
      case 'tokenize': {
        const tenth = Math.floor((10 * e.done) / e.total);
        if (tenth !== tokenized) out.info(`tokenizing images: ${e.done}/${e.total}`);
        tokenized = tenth;
        break;
      }
      case 'start':
        progress.start(
          `${e.resumed ? 'resuming' : 'training'} a transformer of ${(e.parameters / 1e6).toFixed(2)}M parameters by MVTM on ${e.trainExamples} examples ` +
            `(${e.heldOutExamples} held out): step ${e.step} -> ${e.until} of ${e.steps}`,
          e.step,
          e.until,
          { loss: '-', acc: accuracy, lr: '-', rate: '-' },
        );
        break;
      case 'log':
        progress.log(
          e.step,
          { loss: e.loss.toFixed(4), acc: accuracy, lr: e.learningRate.toExponential(2), rate: e.examplesPerSecond.toFixed(1) },
          `step ${e.step}/${e.steps}: loss ${e.loss.toFixed(4)}, lr ${e.learningRate.toExponential(2)}, ${e.examplesPerSecond.toFixed(1)} ex/s, ETA ${duration(e.etaSeconds)}`,
        );
        break;
      case 'eval':
        accuracy = e.accuracy.toFixed(3);
        progress.note(`step ${e.step}: held-out masked-token loss ${e.loss.toFixed(4)}, accuracy ${e.accuracy.toFixed(3)} (${e.maskedTokens} tokens)`);
        break;
      case 'checkpoint':
        progress.note(`step ${e.step}: checkpoint in ${e.dir}`);
        break;
      case 'sample':
        progress.note(`step ${e.step}: samples in ${e.file}`);
        break;
      case 'done':
        break;
    }
  };
  return { onEvent, stop: progress.stop };
}

/**
 * `maskgit train --tokenizer DIR --out DIR`: trains the class-conditional transformer by MVTM
 * on the emoji images tokenized by a trained tokenizer, resumable, with evaluations, sample
 * grids, loss curves and checkpoints in --out, and model/ (both parts) at the end.
 */
export function registerTrain(program: Command, output: () => Output): void {
  program
    .command('train')
    .description('train the class-conditional transformer by MVTM on emoji tokens of a trained tokenizer (checkpoints, curves, samples and model/ in --out)')
    .option('--tokenizer <dir>', "model folder of a trained tokenizer (e.g. the model/ of a train-tokenizer run); with --resume, one with the run's encoder and codebook replaces its decoder")
    .option('--out <dir>', 'run folder: checkpoint/, model/ (tokenizer + transformer), training/ and tokens.safetensors')
    .option('--config <name>', `transformer size: ${Object.keys(TRANSFORMER_PRESETS).join(', ')} (default small)`)
    .option('--steps <n>', 'length of the schedule (total training steps; default 3000)')
    .option('--until <step>', 'stop after this step (checkpointed) and resume later with --resume')
    .option('--batch <n>', 'examples per step (default 64)')
    .option('--lr <x>', 'peak learning rate (default 5e-4)')
    .option('--warmup <n>', 'linear warm-up steps (default 200)')
    .option('--seed <n>', 'seed of the weights, the data order, the masks and dropout (default 0)')
    .option('--resume', 'continue the run saved in --out')
    .option('--log-every <n>', 'steps between loss reports', '10')
    .option('--eval-every <n>', 'steps between held-out evaluations', '250')
    .option('--eval-images <n>', 'held-out images per periodic evaluation (0: all; the last one uses all)', '512')
    .option('--sample-every <n>', 'steps between sample grids (one row per class)', '500')
    .option('--checkpoint-every <n>', 'steps between checkpoints', '250')
    .option('--samples-per-class <n>', 'images per class in the sample grids', '8')
    .option('--dtype <dtype>', 'storage of the exported model (model/): f16 or f32', 'f16')
    .option('--sets <names>', `emoji sets, comma-separated: ${EMOJI_SETS.join(', ')}`, EMOJI_SETS.join(','))
    .option('--max-images <n>', 'use only the first n training and held-out images (quick runs)')
    .addHelpText(
      'after',
      [
        '',
        `--out gets ${TRANSFORMER_RUN_FILES.tokens} (the training images and their mirror images, tokenized once),`,
        `${TRANSFORMER_RUN_FILES.checkpoint}/ (f32 weights of both parts, AdamW moments and the step, written atomically),`,
        `${TRANSFORMER_RUN_FILES.training}/ (loss.png, losses.csv, evals.csv, history.json, samples.png, samples/) and`,
        `${TRANSFORMER_RUN_FILES.model}/ (one model folder with the tokenizer and the transformer, for loadMaskGIT + generate).`,
        'A resumed run continues exactly where the checkpoint left it (same losses as without the break).',
        '',
        'Examples:',
        '  $ maskgit train --tokenizer runs/vq/model --out runs/tfm --steps 3000',
        '  $ maskgit train --tokenizer runs/vq/model --out runs/tfm --steps 3000 --until 500   # stop at step 500',
        '  $ maskgit train --out runs/tfm --resume                                            # ... and go on',
        '  $ maskgit train --out runs/tfm --resume --tokenizer runs/dec/model                 # its decoder, fine-tuned with --decoder-only',
      ].join('\n'),
    )
    .action(async (flags: TrainFlags) => {
      const out = output();
      if (!flags.out) throw new ArgumentError('--out', 'is required: the run folder (e.g. --out runs/tfm)');
      const preset = TRANSFORMER_PRESETS[flags.config ?? 'small'];
      if (!preset) throw new ArgumentError('--config', `must be one of ${Object.keys(TRANSFORMER_PRESETS).join(', ')}, got "${flags.config}"`);
      if (flags.dtype !== 'f32' && flags.dtype !== 'f16') throw new ArgumentError('--dtype', `must be f32 or f16, got "${flags.dtype}"`);
      const sets = flags.sets.split(',').map((s) => s.trim()).filter(Boolean);
      for (const s of sets) if (!(EMOJI_SETS as readonly string[]).includes(s)) throw new ArgumentError('--sets', `unknown set "${s}"; choose from ${EMOJI_SETS.join(', ')}`);
      const training = {
        totalSteps: integer('--steps', flags.steps),
        batchSize: integer('--batch', flags.batch),
        learningRate: positiveNumber('--lr', flags.lr),
        warmupSteps: integer('--warmup', flags.warmup, 0),
        seed: integer('--seed', flags.seed, 0),
      };
      const maxImages = integer('--max-images', flags.maxImages);
      const runOptions = {
        out: flags.out,
        ...(flags.tokenizer !== undefined && { tokenizer: flags.tokenizer }),
        preset,
        resume: !!flags.resume,
        until: integer('--until', flags.until, 0),
        logEvery: integer('--log-every', flags.logEvery)!,
        evalEvery: integer('--eval-every', flags.evalEvery)!,
        evalImages: integer('--eval-images', flags.evalImages, 0)!,
        sampleEvery: integer('--sample-every', flags.sampleEvery)!,
        checkpointEvery: integer('--checkpoint-every', flags.checkpointEvery)!,
        samplesPerClass: integer('--samples-per-class', flags.samplesPerClass)!,
        exportDType: flags.dtype,
      } as const;
      const engine = await createEngine();
      // The image size is the tokenizer's (or the checkpoint's); the emoji are box-filtered to it.
      const size = await runImageSize(flags);
      const dataset = await loadEmojiDataset({ sets: sets as EmojiSet[], size });
      const images = { size, classNames: dataset.classNames, train: firstLabelled(dataset.train, size, maxImages), heldOut: firstLabelled(dataset.heldOut, size, maxImages) };
      const report = reporter(out);
      // Options the user did not give stay undefined: a resumed run keeps the checkpoint's.
      const given = Object.fromEntries(Object.entries(training).filter(([, v]) => v !== undefined));
      let result: Awaited<ReturnType<typeof runTransformerTraining>>;
      try {
        result = await runTransformerTraining(engine, images, {
          ...runOptions,
          training: given,
          onEvent: (e) => {
            report.onEvent(e);
            if (e.type !== 'done') return;
            report.stop();
            if (out.json) return; // the done event was the last JSON line
            out.result({ out: flags.out, ...e }, () =>
              [
                `${e.finished ? 'trained' : 'stopped at'} step ${e.step} of ${e.steps} in ${(e.trainSeconds / 60).toFixed(1)} min of training (${(e.wallSeconds / 60).toFixed(1)} min in all), ${e.examplesPerSecond.toFixed(1)} examples/s`,
                e.eval ? `held-out masked-token loss ${e.eval.loss.toFixed(4)}, accuracy ${e.eval.accuracy.toFixed(3)} (${e.eval.maskedTokens} tokens)` : 'no evaluation yet',
                ...e.files.map((f) => `  ${f}`),
              ].join('\n'),
            );
          },
        });
      } finally {
        report.stop();
      }
      result.trainer.optimizer.dispose();
    });
}

/** The image size of the run: the tokenizer's (new run) or the checkpoint's (resume). */
async function runImageSize(flags: TrainFlags): Promise<number> {
  const dir = flags.resume ? join(flags.out!, TRANSFORMER_RUN_FILES.checkpoint) : flags.tokenizer;
  if (!dir) throw new ArgumentError('--tokenizer', 'is required for a new run: the model folder of a trained tokenizer (maskgit train-tokenizer writes one in <run>/model)');
  let text: string;
  try {
    text = await readFile(join(dir, 'config.json'), 'utf8');
  } catch (cause) {
    if (flags.resume) throw new ArgumentError('--resume', `${flags.out} holds no checkpoint to resume (${join(TRANSFORMER_RUN_FILES.checkpoint, 'config.json')} is not readable)`);
    throw new ArgumentError('--tokenizer', `${dir} holds no readable config.json (${(cause as Error).message})`);
  }
  const size = (JSON.parse(text) as { imageSize?: unknown }).imageSize;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) throw new ArgumentError('--tokenizer', `${join(dir, 'config.json')} has no valid imageSize`);
  return size;
}
