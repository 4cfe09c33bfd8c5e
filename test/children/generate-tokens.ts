// Generates with a tiny real MaskGIT (random weights from a fixed seed) in a fresh process and
// engine, and prints each image's tokens and a hash of its pixels: test/determinism.test.ts
// compares runs of this script in separate processes.
//   generate-tokens.ts <mode> [--portable]
// mode 'batch': each variant as one batch (seed 100: image i draws with seed 100 + i);
// mode 'single': the same images one at a time, with seeds 100 + i and the same classes.
// --portable: an engine without the subgroups feature (the portable kernel paths).
import { createHash } from 'node:crypto';
import { createEngine, generate, inpaint, type GenerateOptions, type RGBAImage } from '../../src/node.js';
import { tinyConfig, tinyModel } from '../helpers/tiny-maskgit.js';
import { report } from './report.js';

const [mode, flag] = process.argv.slice(2);
const engine = await createEngine(flag === '--portable' ? { disableFeatures: ['subgroups'] } : {});
const config = tinyConfig({ classes: 10, nullClass: 9 });
const model = tinyModel(engine, config, 4);
const SEED = 100;

const hash = (image: RGBAImage) => createHash('sha256').update(image.data).digest('hex').slice(0, 16);

/** Per image: its tokens and pixel hash. */
type Images = { tokens: number[]; pixels: string }[];
const collect = (out: { images: RGBAImage[]; tokens: Int32Array[] }): Images => out.images.map((image, i) => ({ tokens: [...out.tokens[i]!], pixels: hash(image) }));

const variants: Record<string, { classes: number[] } & Omit<GenerateOptions, 'classes' | 'seed' | 'batch'>> = {
  plain: { classes: [1, 5, 8], steps: 6 },
  guided: { classes: [1, 5, 8], steps: 6, guidance: { scale: 2, ramp: 'linear' }, topK: 8 },
  // Five images: the VQ decoder decodes them in two chunks (4 + 1).
  'five images': { classes: [0, 2, 3, 4, 6], steps: 4, schedule: 'linear', choiceTemperature: 2 },
};
for (const [name, { classes, ...options }] of Object.entries(variants)) {
  const images: Images = [];
  if (mode === 'batch') images.push(...collect(await generate(model, { ...options, classes, seed: SEED })));
  else for (const [i, c] of classes.entries()) images.push(...collect(await generate(model, { ...options, classes: c, seed: SEED + i })));
  report({ variant: name, images });
}
// One label for a batch (classes: 7, batch: 3), and inpainting's variants (batch: 3).
{
  const images: Images = [];
  if (mode === 'batch') images.push(...collect(await generate(model, { classes: 7, batch: 3, steps: 5, seed: SEED })));
  else for (let i = 0; i < 3; i++) images.push(...collect(await generate(model, { classes: 7, steps: 5, seed: SEED + i })));
  report({ variant: 'one label, batch 3', images });
}
{
  const S = config.imageSize;
  const image: RGBAImage = { width: S, height: S, data: Uint8Array.from({ length: S * S * 4 }, (_, i) => (i % 4 === 3 ? 255 : (i * 13) & 255)) };
  const mask = { width: S, height: S, data: Uint8Array.from({ length: S * S }, (_, p) => (p % S >= S / 2 ? 1 : 0)) };
  const images: Images = [];
  if (mode === 'batch') images.push(...collect(await inpaint(model, image, mask, { class: 3, steps: 6, batch: 3, seed: SEED })));
  else for (let i = 0; i < 3; i++) images.push(...collect(await inpaint(model, image, mask, { class: 3, steps: 6, seed: SEED + i })));
  report({ variant: 'inpaint, batch 3', images });
}
model.dispose();
report({ subgroups: engine.hasSubgroups });
