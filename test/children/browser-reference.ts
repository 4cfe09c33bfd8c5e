// The Node side of the browser test: the same model, seed and options as the page, on the
// adapter this process is given (SwiftShader through VK_ICD_FILENAMES, like Chromium's).
//   args: <model dir> <json: { classLabel, seed, steps, guidance?, browserTokens, bits: {seed, purpose, positions, length} }>
import { createEngine, generate, loadMaskGIT, randomStream, rgbFloatToRGBA } from '../../src/node.js';
import { report } from './report.js';

const [dir, json] = process.argv.slice(2);
const request = JSON.parse(json!) as {
  classLabel: number;
  seed: number;
  steps: number;
  guidance?: number;
  browserTokens: number[];
  bits: { seed: number; purpose: number; positions: number; length: number };
};
const engine = await createEngine();
const model = await loadMaskGIT(engine, dir!);
const generated = await generate(model, { classes: request.classLabel, seed: request.seed, steps: request.steps, ...(request.guidance ? { guidance: request.guidance } : {}) });
// The browser's tokens through this process's VQGAN decoder (what its canvas should show).
const input = engine.tensor(Int32Array.from(request.browserTokens), [1, request.browserTokens.length], 'i32');
const pixels = model.tokenizer.decode(input);
const side = model.config.imageSize;
const rgba = rgbFloatToRGBA(Float32Array.from(await pixels.read()), side, side);
const seeds = engine.tensor([request.bits.seed], [1], 'u32');
const bits = randomStream(seeds, 'bits', { ...request.bits, step: 0 });
report({
  adapter: engine.info.description || engine.info.device,
  tokens: [...generated.tokens[0]!],
  decodedBrowserTokens: [...rgba.data],
  bits: [...(await bits.read())],
});
process.exit(0);
