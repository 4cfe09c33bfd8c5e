// Held-out reconstruction of a tokenizer model folder on the emoji images it was trained for:
//   node scripts/run-ts.mjs scripts/eval-tokenizer.ts <model-folder> [--dtype f32|f16] [--grid out.png]
// Prints the PSNR (mean over images and of the mean error), the codes used and their
// perplexity as JSON; --grid writes held-out originals above their reconstructions.
import { writeFileSync } from 'node:fs';
import { createEngine, evaluateTokenizer, loadModelWeights, reconstructionGrid, VQGANTokenizer, type ImageSet } from '../src/node.js';
import { loadEmojiDataset } from '../src/io/emoji.js';
import { encodePNG } from '../src/io/png.js';

const [dir, ...rest] = process.argv.slice(2);
if (!dir) {
  console.error('usage: eval-tokenizer.ts <model-folder> [--dtype f32|f16] [--grid out.png]');
  process.exit(2);
}
const flag = (name: string) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};
const dtype = (flag('--dtype') ?? 'f32') as 'f32' | 'f16';
const engine = await createEngine();
const { config, weights } = await loadModelWeights(engine, dir, { dtype, parts: ['tokenizer'] });
const tokenizer = VQGANTokenizer.fromWeights(weights, config.tokenizer);
const data = await loadEmojiDataset({ size: config.imageSize });
const heldOut: ImageSet = { images: data.heldOut.images, count: data.heldOut.count, size: data.size };
const t0 = performance.now();
const metrics = await evaluateTokenizer(tokenizer, heldOut);
console.log(JSON.stringify({ model: dir, dtype, ...metrics, seconds: Number(((performance.now() - t0) / 1000).toFixed(1)) }));
const grid = flag('--grid');
if (grid) writeFileSync(grid, encodePNG(await reconstructionGrid(tokenizer, heldOut, 16)));
process.exit(0);
