// Losing the GPU device mid-call, shared by the device-loss child scripts: the two ways a
// device goes, and a runner that reports what the call settled with and how long after the loss.
import { DeviceError, type Engine } from '../../src/node.js';

export const loseWith: Record<string, (engine: Engine) => void> = {
  engine: (engine) => engine.destroy(),
  // As when the driver or the browser takes the device: the engine learns of it from device.lost.
  device: (engine) => engine.device.destroy(),
};

/**
 * Progress callbacks (decode steps) that began after the loss, in the running scenario: a loop
 * that went on with its hundreds of steps would show here. A count of work, which load cannot
 * change, where a time would.
 */
export const afterLoss = {
  happened: false,
  steps: 0,
  reset(): void {
    this.happened = false;
    this.steps = 0;
  },
  /** `onStep` / `onProgress`, counting the calls made after the loss. */
  counted<T, R>(callback: (info: T) => R): (info: T) => R {
    return (info) => {
      if (this.happened) this.steps++;
      return callback(info);
    };
  },
};

export type Outcome = { error: string; message: string } | { resolved: true };

/** What a call settled with: the error's class (DeviceError by name) and message, or resolved. */
export async function outcomeOf(call: () => Promise<unknown>): Promise<Outcome> {
  try {
    await call();
    return { resolved: true };
  } catch (error) {
    return { error: error instanceof DeviceError ? 'DeviceError' : (error as Error).constructor.name, message: String((error as Error).message).slice(0, 200) };
  }
}

/**
 * Runs `call`, which loses `engine`'s device (by `lose`) through the function it is given, and
 * reports how the call settled, whether the loss happened, and how long after it the call settled.
 */
export async function runUntilLost(engine: Engine, lose: (engine: Engine) => void, call: (lose: () => void) => Promise<unknown>): Promise<Outcome & { lost: boolean; settledMs: number; stepsAfterLoss: number }> {
  let lostAt = 0;
  afterLoss.reset();
  const started = performance.now();
  const outcome = await outcomeOf(() =>
    call(() => {
      lostAt = performance.now();
      afterLoss.happened = true;
      lose(engine);
    }),
  );
  return { ...outcome, lost: lostAt > 0, settledMs: Math.round(performance.now() - (lostAt || started)), stepsAfterLoss: afterLoss.steps };
}
