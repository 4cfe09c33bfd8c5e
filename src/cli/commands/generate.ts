import type { Command } from 'commander';
import { ArgumentError } from '../../errors.js';
import { imageTokenCount } from '../../maskgit/config.js';
import { defaultSteps } from '../../maskgit/decode.js';
import { generate } from '../../maskgit/pipeline.js';
import type { Output } from '../output.js';
import {
  asFlags,
  checkOutput,
  classFlag,
  integerFlag,
  loadModel,
  readConfig,
  report,
  requiredFlag,
  samplingFlags,
  samplingOptions,
  secondsSince,
  stepProgress,
  writeImages,
  writeTokens,
  type SamplingFlags,
} from './sampling.js';

interface GenerateFlags extends SamplingFlags {
  class?: string;
  perClass?: string;
  framesOut?: string;
}

/**
 * `maskgit generate --model DIR --class N[,N...] --out FILE.png`: class-conditional images
 * (a grid PNG when batched), optionally their tokens (--tokens-out) and a strip of every
 * step's sketch per image (--frames-out).
 */
export function registerGenerate(program: Command, output: () => Output): void {
  const command = program.command('generate').description('generate class-conditional images with MaskGIT');
  samplingFlags(command, { steps: '8 (12 from 32x32 tokens up)', startStep: '0' })
    .option('--class <n[,n...]|all>', 'class label(s): one for the whole batch, one per image, or all (one image per class but the null class)')
    .option('--per-class <n>', 'images per class label given (the grid gets a row per label)')
    .option('--frames-out <file.png>', "also write each step's sketch (masked tokens as a grey checkerboard): one row per image")
    .addHelpText(
      'after',
      [
        '',
        'Image i of a batch uses seed + i, so it equals a single-image run with that seed.',
        '',
        'Examples:',
        '  $ maskgit generate --model models/maskgit-256 --class 207 --out dog.png',
        '  $ maskgit generate --model models/emoji-32 --class all --seed 1 --out out/emoji-grid.png',
        '  $ maskgit generate --model models/emoji-32 --class all --per-class 8 --guidance 4 --out out/emoji-rows.png',
        '  $ maskgit generate --model models/maskgit-256 --class 207,360,388,980 --seed 7 --out grid.png',
        '  $ maskgit generate --model models/maskgit-256 --class 980 --batch 4 --steps 12 --schedule linear --out volcano.png',
        '  $ maskgit generate --model models/maskgit-256 --class 1 --sample-temperature 0 --choice-temperature 0 \\',
        '      --tokens-out tokens.json --frames-out steps.png --out fish.png',
      ].join('\n'),
    )
    .action(async (flags: GenerateFlags) => {
      const out = output();
      const started = performance.now();
      const dir = requiredFlag('--model', flags.model, 'models/maskgit-256');
      const file = requiredFlag('--out', flags.out, 'out.png');
      for (const [name, path] of [['--out', file], ['--tokens-out', flags.tokensOut], ['--frames-out', flags.framesOut]] as const) await checkOutput(name, path);
      const config = await readConfig(dir);
      const perClass = integerFlag('--per-class', flags.perClass, 1, 4096);
      const labels = classFlag(config, flags.class, true);
      const classes = perClass === undefined ? labels : labels.flatMap((label) => new Array<number>(perClass).fill(label));
      const options = await asFlags(() => samplingOptions(config, flags, { steps: defaultSteps(imageTokenCount(config)), startStep: 0 }));
      if (options.batch !== undefined && classes.length > 1 && options.batch !== classes.length) {
        throw new ArgumentError('--batch', `is ${options.batch} but ${classes.length} class labels were given; give one label, or one per image`);
      }
      const model = await loadModel(out, dir, flags.dtype);
      const bar = stepProgress(out, 'generating');
      let result;
      try {
        result = await asFlags(() =>
          generate(model, { ...options, classes, frames: flags.framesOut !== undefined, onProgress: bar.onProgress }),
        );
      } finally {
        bar.stop();
      }
      const files = [file];
      await writeImages(file, result.images, perClass);
      if (flags.tokensOut) {
        await writeTokens(flags.tokensOut, result.tokens);
        files.push(flags.tokensOut);
      }
      if (flags.framesOut) {
        const frames = result.frames!;
        await writeImages(flags.framesOut, result.images.flatMap((_, b) => frames.map((f) => f.images[b]!)), frames.length);
        files.push(flags.framesOut);
      }
      model.dispose();
      const batch = result.images.length;
      report(out, {
        out: file,
        files,
        images: batch,
        width: config.imageSize,
        height: config.imageSize,
        classes: classes.length === 1 ? new Array<number>(batch).fill(classes[0]!) : classes,
        seeds: Array.from({ length: batch }, (_, i) => options.seed! + i),
        seconds: secondsSince(started),
      });
    });
}
