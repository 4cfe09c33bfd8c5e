// Losing the GPU device mid-work (test/children/device-loss.ts, in a child process: dawn.node
// may crash on teardown and must not take the test runner down). For every way the engine
// waits on the GPU — a decode's step loop (plain, with per-step readbacks, with an async
// onStep), a pending read, a pending sync, a wait the implementation never settles, new work
// on a lost engine — and for both kinds of loss (engine.destroy(), and device.destroy() as
// when the browser or driver takes the device): the pending call rejects with DeviceError
// promptly, and a new engine created afterwards in the same process computes correctly.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeModelFolder } from '../src/node.js';
import { childScript, runChild } from './helpers/child.js';
import { tinyConfig, tinyTensors } from './helpers/tiny-maskgit.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

const work = mkdtempSync(join(tmpdir(), 'maskgit-device-loss-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The DeviceError's message, as the engine words it. */
const LOST = /the GPU device was lost \(destroyed: .*\); create a new engine to continue/;

interface ScenarioResult {
  scenario: string;
  lostBy: string;
  error?: string;
  message?: string;
  resolved?: true;
  lost: boolean;
  settledMs: number;
  stepsAfterLoss: number;
}

/**
 * The pending call rejected with DeviceError, promptly: not a wait for hundreds of steps of
 * work (counted: at most the step in flight reports after the loss), and not a hang (the child's
 * hang guard; settledMs is in the failure message for reading, never compared with a time).
 */
function expectRejectedOnLoss(r: ScenarioResult, what: string): void {
  expect(r.lost, what).toBe(true);
  expect(r.error, `${what}: ${r.message ?? 'resolved'} (settled ${r.settledMs} ms after the loss)`).toBe('DeviceError');
  expect(r.message, what).toMatch(LOST);
  expect(r.stepsAfterLoss, `${what}: steps after the loss`).toBeLessThanOrEqual(1);
}

describe('device loss', () => {
  it('every pending GPU wait rejects with DeviceError, and a new engine works afterwards', async () => {
    const run = await runChild(await childScript('device-loss'), [], { timeoutMs: HANG_GUARD_MS });
    const results = run.results as (ScenarioResult | { done: true })[];
    // The child reached its end (a crash on teardown after that is tolerated; a hang is not).
    expect(run.timedOut, run.stderr.slice(-2000)).toBe(false);
    expect(results.at(-1), run.stderr.slice(-2000)).toEqual({ done: true });
    const scenarios = results.slice(0, -1) as (ScenarioResult & { freshEngine: number[] })[];
    expect(scenarios.length).toBe(7 * 2);
    for (const r of scenarios) {
      const what = `${r.scenario} (lost by ${r.lostBy})`;
      expectRejectedOnLoss(r, what);
      expect(r.freshEngine, what).toEqual([2, 6, 12]);
    }
  });

  // The same for the calls users make (test/children/generate-loss.ts), on a tiny real MaskGIT
  // loaded from a model folder: afterwards the lost model refuses further calls with
  // DeviceError, and a new engine with the model reloaded generates the same tokens as before
  // any loss.
  it('generate / inpaint / outpaint reject with DeviceError when the device goes mid-call; a new engine and a reloaded model then generate', async () => {
    const folder = join(work, 'tiny');
    const config = tinyConfig({ classes: 10 });
    await writeModelFolder(folder, config, tinyTensors(config));
    const run = await runChild(await childScript('generate-loss'), [folder], { timeoutMs: HANG_GUARD_MS });
    const results = run.results as unknown[];
    expect(run.timedOut, run.stderr.slice(-2000)).toBe(false);
    expect(results.at(-1), run.stderr.slice(-2000)).toEqual({ done: true });
    const before = (results[0] as { before: number[] }).before;
    expect(before.length).toBe(2 * (config.imageSize / 4) ** 2);
    const scenarios = results.slice(1, -1) as (ScenarioResult & { reuse: string; after: number[] })[];
    expect(scenarios.length).toBe(6 * 2);
    for (const r of scenarios) {
      const what = `${r.scenario} (lost by ${r.lostBy})`;
      expectRejectedOnLoss(r, what);
      expect(r.reuse, `${what}: a further call on the lost model`).toBe('DeviceError');
      expect(r.after, `${what}: a new engine and the model reloaded`).toEqual(before);
    }
  }, HANG_GUARD_MS);
});
