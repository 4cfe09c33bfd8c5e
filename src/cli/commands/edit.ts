import type { Command } from 'commander';
import { ArgumentError } from '../../errors.js';
import type { ModelFolderConfig } from '../../io/model.js';
import type { RGBAImage } from '../../io/png.js';
import { checkBox, checkEditImage, checkOutpaintInput, editBox, inpaint, outpaint, pixelMask, type OutpaintSide } from '../../maskgit/edit.js';
import type { LoadedMaskGIT } from '../../maskgit/load.js';
import type { SamplingOptions } from '../../maskgit/pipeline.js';
import type { Output } from '../output.js';
import {
  asFlags,
  checkOutput,
  classFlag,
  integerFlag,
  loadModel,
  readConfig,
  readPNG,
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

interface EditFlags extends SamplingFlags {
  image?: string;
  class?: string;
  blurRadius?: string;
}

/** The official editing recipe's defaults: 12 steps from step 2. */
const EDIT_DEFAULTS = { steps: 12, startStep: 2 };

/**
 * Registers an editing command: its own flags and checks (`prepare`, run before the model is
 * loaded), then the shared steps: checks of the common flags, loading, the run with a step bar,
 * writing the images (and tokens).
 */
function editCommand<F extends EditFlags, P>(
  program: Command,
  output: () => Output,
  spec: {
    name: string;
    description: string;
    examples: string[];
    flags: (command: Command) => Command;
    prepare: (config: ModelFolderConfig, image: RGBAImage, flags: F) => Promise<P>;
    run: (model: LoadedMaskGIT, image: RGBAImage, prepared: P, options: SamplingOptions & { class: number; batch?: number; blurRadius?: number }) => Promise<{ images: RGBAImage[]; tokens?: Int32Array[] }>;
    tokens: boolean;
  },
): void {
  const command = program.command(spec.name).description(spec.description);
  // Outpainting decodes several windows: no single token grid to write (no --tokens-out).
  samplingFlags(command, { steps: String(EDIT_DEFAULTS.steps), startStep: String(EDIT_DEFAULTS.startStep) }, spec.tokens)
    .option('--image <file.png>', "input image (the model's size; see the command's notes)")
    .option('--class <n>', 'class label the regenerated part is conditioned on')
    .option('--blur-radius <px>', 'standard deviation of the blend mask blur (default: image size / 16 - 1)');
  spec.flags(command).addHelpText('after', ['', 'Examples:', ...spec.examples.map((e) => `  $ ${e}`)].join('\n'));
  command.action(async (flags: F) => {
    const out = output();
    const started = performance.now();
    const dir = requiredFlag('--model', flags.model, 'models/maskgit-256');
    const file = requiredFlag('--out', flags.out, 'out.png');
    for (const [name, path] of [['--out', file], ['--tokens-out', flags.tokensOut]] as const) await checkOutput(name, path);
    const config = await readConfig(dir);
    const image = await readPNG('--image', requiredFlag('--image', flags.image, 'photo.png'));
    const [label] = classFlag(config, flags.class, false);
    const sampling = await asFlags(() => samplingOptions(config, flags, EDIT_DEFAULTS));
    const blurRadius = flags.blurRadius === undefined ? undefined : Number(flags.blurRadius);
    if (blurRadius !== undefined && !(Number.isFinite(blurRadius) && blurRadius >= 0)) throw new ArgumentError('--blur-radius', `must be a number >= 0 (pixels), got "${flags.blurRadius}"`);
    const prepared = await spec.prepare(config, image, flags);
    const model = await loadModel(out, dir, flags.dtype);
    const bar = stepProgress(out, spec.name === 'edit' ? 'editing' : `${spec.name}ing`);
    let result;
    try {
      result = await asFlags(() =>
        spec.run(model, image, prepared, { ...sampling, class: label!, ...(blurRadius !== undefined ? { blurRadius } : {}), onProgress: bar.onProgress }),
      );
    } finally {
      bar.stop();
    }
    const files = [file];
    await writeImages(file, result.images);
    if (flags.tokensOut && result.tokens) {
      await writeTokens(flags.tokensOut, result.tokens);
      files.push(flags.tokensOut);
    }
    model.dispose();
    report(out, { out: file, files, images: result.images.length, width: result.images[0]!.width, height: result.images[0]!.height, class: label, seed: sampling.seed, seconds: secondsSince(started) });
  });
}

export function registerEditing(program: Command, output: () => Output): void {
  editCommand<EditFlags & { mask?: string }, Uint8Array>(program, output, {
    name: 'inpaint',
    description: 'regenerate the masked part of an image (mask white = regenerate)',
    examples: [
      'maskgit inpaint --model models/maskgit-256 --image photo.png --mask mask.png --class 207 --out filled.png',
      'maskgit inpaint --model models/maskgit-256 --image photo.png --mask mask.png --class 207 --batch 4 --seed 3 --out variants.png',
    ],
    flags: (c) =>
      c
        .option('--mask <file.png>', "mask of the image's size: white (grey >= 128) = regenerate")
        .addHelpText(
          'after',
          "\nThe image must be the model's size (e.g. 256x256); it is not resized. A token is regenerated when any of its\n" +
            'pixels is masked; the others are kept. Masked pixels come from the generated image, pixels far from them\n' +
            'from the input, blended across a band of about 3 x (image size / 16 - 1) pixels.',
        ),
    prepare: async (config, image, flags) => {
      await asFlags(() => checkEditImage(config, image));
      const mask = await readPNG('--mask', requiredFlag('--mask', flags.mask, 'mask.png'));
      const pixels = await asFlags(() => pixelMask(mask, image.width, image.height));
      if (!pixels.includes(1)) throw new ArgumentError('--mask', 'masks no pixel (white = regenerate): there is nothing to inpaint');
      return pixels;
    },
    run: (model, image, pixels, options) => inpaint(model, image, { width: image.width, height: image.height, data: pixels }, options),
    tokens: true,
  });

  editCommand<EditFlags & { side?: string; amount?: string }, { side: OutpaintSide; amount: number }>(program, output, {
    name: 'outpaint',
    description: 'extend an image on one side, in model-sized windows that overlap the known content',
    examples: [
      'maskgit outpaint --model models/maskgit-256 --image photo.png --side right --amount 128 --class 970 --out wider.png',
      'maskgit outpaint --model models/maskgit-256 --image photo.png --side top --amount 300 --class 970 --seed 2 --out taller.png',
    ],
    flags: (c) =>
      c
        .option('--side <side>', 'left, right, top or bottom')
        .option('--amount <px>', 'pixels to add on that side')
        .addHelpText(
          'after',
          "\nThe image must be the model's size across the side (its height for left/right) and at least half of it along\n" +
            'the side. Each window is the model\'s size: the known half (or more) encoded, the new part generated, then the\n' +
            'window slides outward. The input is kept exactly away from the seams.',
        ),
    prepare: async (config, image, flags) => {
      const side = requiredFlag('--side', flags.side, 'right');
      if (!['left', 'right', 'top', 'bottom'].includes(side)) throw new ArgumentError('--side', `must be left, right, top or bottom, got "${side}"`);
      const amount = integerFlag('--amount', requiredFlag('--amount', flags.amount, '128'), 1, 32 * config.imageSize)!;
      await asFlags(() => checkOutpaintInput(config, image, side, amount));
      return { side: side as OutpaintSide, amount };
    },
    run: (model, image, { side, amount }, options) => outpaint(model, image, { ...options, side, amount }),
    tokens: false,
  });

  editCommand<EditFlags & { box?: string }, { top: number; left: number; height: number; width: number }>(program, output, {
    name: 'edit',
    description: 'regenerate a box of an image as another class (the official MaskGIT box edit)',
    examples: [
      'maskgit edit --model models/maskgit-256 --image photo.png --box 64,32,128,144 --class 388 --out panda.png',
      'maskgit edit --model models/maskgit-256 --image photo.png --box 0,0,128,256 --class 970 --batch 8 --out variants.png',
    ],
    flags: (c) =>
      c
        .option('--box <top,left,height,width>', 'the box to regenerate, in pixels')
        .addHelpText(
          'after',
          "\nThe official recipe: the box's tokens dilated by one token on each side are regenerated as the target class,\n" +
            "12 steps from step 2, and blended in with the box mask blurred by image size / 16 - 1. The image must be the model's size.",
        ),
    prepare: async (config, image, flags) => {
      await asFlags(() => checkEditImage(config, image));
      const text = requiredFlag('--box', flags.box, '64,32,128,144');
      const parts = text.split(',').map((p) => Number(p.trim()));
      if (parts.length !== 4 || !parts.every((p) => Number.isSafeInteger(p))) throw new ArgumentError('--box', `must be four integers TOP,LEFT,HEIGHT,WIDTH in pixels, got "${text}"`);
      const box = { top: parts[0]!, left: parts[1]!, height: parts[2]!, width: parts[3]! };
      await asFlags(() => checkBox(box, image.width, image.height));
      return box;
    },
    run: (model, image, box, options) => editBox(model, image, box, options.class, options),
    tokens: true,
  });
}
