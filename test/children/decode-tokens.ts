// Decodes with the stand-in model in a fresh process and engine, and prints the tokens:
// test/determinism.test.ts compares runs of this script in separate processes.
//   decode-tokens.ts <mode> [--portable]
// mode 'batch': one batch of three images (seeds 100, 101, 102), plain and guided;
// mode 'single': the same images one at a time with their own seeds.
// --portable: an engine without the subgroups feature (the portable kernel paths).
import { createEngine, decodeTokens, type DecodeOptions } from '../../src/node.js';
import { smallConfig, standInModel } from '../helpers/standin-model.js';
import { report } from './report.js';

const [mode, flag] = process.argv.slice(2);
const engine = await createEngine(flag === '--portable' ? { disableFeatures: ['subgroups'] } : {});
const config = smallConfig(8, 32, 9);
const model = standInModel(engine, config, { seed: 7, scale: 1 });
const classes = [1, 5, 8];
const variants: Record<string, Omit<DecodeOptions, 'classes' | 'seeds'>> = {
  plain: { steps: 8 },
  guided: { steps: 8, guidance: { scale: 2, ramp: 'linear' }, topK: 20 },
};
for (const [name, options] of Object.entries(variants)) {
  const runs = mode === 'batch' ? [{ classes, seeds: 100 }] : classes.map((c, i) => ({ classes: [c], seeds: 100 + i }));
  const tokens: number[] = [];
  for (const run of runs) {
    const out = await decodeTokens(model, config, { ...options, ...run });
    tokens.push(...(await out.read()));
    out.dispose();
  }
  report({ variant: name, tokens });
}
report({ subgroups: engine.hasSubgroups });
