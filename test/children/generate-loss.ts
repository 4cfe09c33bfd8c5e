// Loses the GPU device in the middle of the calls users make (generate, inpaint, outpaint) on
// a tiny real MaskGIT loaded from a model folder, and reports for each: what the pending call
// rejected with and how long after the loss, what a further call on the lost model rejects
// with, and the tokens a new engine with the model reloaded generates afterwards in this
// process (the parent compares them with a run made before any loss). Run by
// test/device-loss.test.ts in a child process (dawn.node may crash on teardown).
//   generate-loss.ts <model folder>
import { createEngine, generate, inpaint, loadMaskGIT, outpaint, type GenerateProgress, type LoadedMaskGIT, type RGBAImage } from '../../src/node.js';
import { afterLoss, loseWith, outcomeOf, runUntilLost } from './lose.js';
import { report } from './report.js';

const folder = process.argv[2]!;
/** The check a new engine must pass after each loss (and the one made before any loss). */
const CHECK = { classes: [1, 2], steps: 4, seed: 5 } as const;

function picture(model: LoadedMaskGIT): RGBAImage {
  const S = model.config.imageSize;
  return { width: S, height: S, data: Uint8Array.from({ length: S * S * 4 }, (_, i) => (i % 4 === 3 ? 255 : (i * 7) & 255)) };
}

/** Each scenario starts a call on `model`, loses the device at a chosen moment through `lose`, and returns the call's promise. */
const scenarios: Record<string, (model: LoadedMaskGIT, lose: () => void) => Promise<unknown>> = {
  // 64 steps; the device goes during step 3's progress callback.
  'generate, lost in onProgress': (model, lose) => generate(model, { classes: [1, 2], steps: 64, onProgress: afterLoss.counted(({ step }: GenerateProgress) => (step === 3 ? lose() : undefined)) }),
  // With frames (a readback per step); the device goes at step 3.
  'generate with frames, lost in onProgress': (model, lose) =>
    generate(model, { classes: [3], steps: 64, frames: true, onProgress: afterLoss.counted(({ step }: GenerateProgress) => (step === 3 ? lose() : undefined)) }),
  // An async progress callback; the device goes from a timer while the loop waits on the GPU.
  'generate, lost from a timer mid-way': (model, lose) => {
    let timer: NodeJS.Timeout | undefined;
    const work = generate(model, {
      classes: [1, 2, 3, 4],
      batch: 4,
      steps: 400,
      onProgress: afterLoss.counted(async ({ step }: GenerateProgress) => {
        if (step === 2) timer = setTimeout(lose, 50);
      }),
    });
    return work.finally(() => clearTimeout(timer));
  },
  // After the last step: the VQ decoder's work and readback meet a lost device.
  'generate, lost before the VQ decode': (model, lose) => generate(model, { classes: [4, 5, 6, 7, 8], steps: 4, onProgress: ({ step, steps }) => (step === steps ? lose() : undefined) }),
  'inpaint, lost in onProgress': (model, lose) => {
    const S = model.config.imageSize;
    const mask = { width: S, height: S, data: new Uint8Array(S * S).fill(1, 0, S * 8) };
    return inpaint(model, picture(model), mask, { class: 2, steps: 64, startStep: 0, onProgress: afterLoss.counted(({ step }: GenerateProgress) => (step === 3 ? lose() : undefined)) });
  },
  // Two windows; the device goes in the second, after the first was blended in.
  'outpaint, lost in the second window': (model, lose) =>
    outpaint(model, picture(model), { side: 'right', amount: model.config.imageSize, class: 1, steps: 8, onProgress: ({ window }: GenerateProgress) => (window === 2 ? lose() : undefined) }),
};

/** A new engine, the model reloaded from its folder, CHECK generated: its tokens. */
async function freshTokens(): Promise<number[]> {
  const engine = await createEngine();
  const model = await loadMaskGIT(engine, folder);
  const { tokens, images } = await generate(model, CHECK);
  if (images.length !== CHECK.classes.length) throw new Error('the check generated the wrong number of images');
  model.dispose();
  engine.destroy();
  return tokens.flatMap((t) => [...t]);
}

report({ before: await freshTokens() });
for (const [name, run] of Object.entries(scenarios)) {
  for (const [how, lose] of Object.entries(loseWith)) {
    const engine = await createEngine();
    const model = await loadMaskGIT(engine, folder);
    const outcome = await runUntilLost(engine, lose, (lost) => run(model, lost));
    // The lost model refuses further calls at once.
    const reuse = await outcomeOf(() => generate(model, { classes: 1, steps: 2 }));
    report({ scenario: name, lostBy: how, ...outcome, reuse: 'error' in reuse ? reuse.error : 'resolved', after: await freshTokens() });
  }
}
report({ done: true });
