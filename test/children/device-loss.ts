// Loses the GPU device in the middle of work, in every way the engine waits on the GPU, and
// reports for each: what the pending call rejected with, how long after the loss, and whether
// a new engine made afterwards in this process computes correctly. Run by
// test/device-loss.test.ts in a child process (dawn.node may crash on teardown).
import { createEngine, decodeTokens, ops, type Engine } from '../../src/node.js';
import { smallConfig, standInModel } from '../helpers/standin-model.js';
import { afterLoss, loseWith, runUntilLost } from './lose.js';
import { report } from './report.js';

/** Each scenario starts work on `engine`, loses the device at a chosen moment through `lose`, and returns the promise of that work. */
const scenarios: Record<string, (engine: Engine, lose: () => void) => Promise<unknown>> = {
  // Decoding 200 steps; the device goes during step 5's onStep (the loop must stop with DeviceError).
  'decode, lost in onStep': (engine, lose) => {
    const config = smallConfig(8, 32);
    const model = standInModel(engine, config);
    return decodeTokens(model, config, { classes: [1, 2], steps: 200, onStep: afterLoss.counted(({ step }) => (step === 5 ? lose() : undefined)) });
  },
  // Decoding with a readback per step (frames); the device goes at step 5.
  'decode with frames, lost in onStep': (engine, lose) => {
    const config = smallConfig(8, 32);
    const model = standInModel(engine, config);
    return decodeTokens(model, config, { classes: [3], steps: 200, frames: true, onStep: afterLoss.counted(({ step }) => (step === 5 ? lose() : undefined)) });
  },
  // Decoding with an async onStep; the device goes from a timer while the loop waits on the GPU.
  'decode, lost from a timer mid-way': (engine, lose) => {
    const config = smallConfig(16, 64);
    const model = standInModel(engine, config);
    let timer: NodeJS.Timeout | undefined;
    const work = decodeTokens(model, config, {
      classes: [1, 2, 3, 4],
      steps: 400,
      onStep: afterLoss.counted(async ({ step }) => {
        if (step === 2) timer = setTimeout(lose, 100);
      }),
    });
    return work.finally(() => clearTimeout(timer));
  },
  // The decode is recorded; its final read is pending when the device goes.
  'read pending': async (engine, lose) => {
    const config = smallConfig(16, 64);
    const model = standInModel(engine, config);
    const tokens = await decodeTokens(model, config, { classes: [1, 2, 3, 4], steps: 60 });
    const read = tokens.read();
    setTimeout(lose, 20);
    return read;
  },
  // engine.sync() pending when the device goes.
  'sync pending': async (engine, lose) => {
    const config = smallConfig(16, 64);
    const model = standInModel(engine, config);
    await decodeTokens(model, config, { classes: [1, 2, 3, 4], steps: 60 });
    const sync = engine.sync();
    lose();
    return sync;
  },
  // An implementation that never settles a wait once the device is gone (the spec lets
  // promises settle on loss, but a hang here would hang the caller): simulated by a queue
  // whose onSubmittedWorkDone never settles.
  'a wait that never settles': async (engine, lose) => {
    const queue = engine.device.queue as { onSubmittedWorkDone: () => Promise<undefined> };
    queue.onSubmittedWorkDone = () => new Promise(() => undefined);
    const sync = engine.sync();
    setTimeout(lose, 20);
    return sync;
  },
  // A lost engine refuses new work at once.
  'use after loss': async (engine, lose) => {
    lose();
    await new Promise((r) => setTimeout(r, 50));
    const config = smallConfig(4, 16);
    return decodeTokens({ engine, forward: () => engine.tensor([0], [1]) }, config, { classes: [1], steps: 4 });
  },
};

const only = process.argv[2];
for (const [name, run] of Object.entries(scenarios)) {
  if (only && name !== only) continue;
  for (const [how, lose] of Object.entries(loseWith)) {
    const engine = await createEngine();
    const outcome = await runUntilLost(engine, lose, (lost) => run(engine, lost));
    // A new engine in this process: a small op, its result checked.
    const fresh = await createEngine();
    const x = fresh.tensor([1, 2, 3], [3]);
    const sum = [...(await ops.add(x, ops.mul(x, x)).read())];
    fresh.destroy();
    report({ scenario: name, lostBy: how, ...outcome, freshEngine: sum });
  }
}
report({ done: true });
