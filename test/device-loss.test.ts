// Losing the GPU device mid-work (test/children/device-loss.ts, in a child process: dawn.node
// may crash on teardown and must not take the test runner down). For every way the engine
// waits on the GPU — a decode's step loop (plain, with per-step readbacks, with an async
// onStep), a pending read, a pending sync, a wait the implementation never settles, new work
// on a lost engine — and for both kinds of loss (engine.destroy(), and device.destroy() as
// when the browser or driver takes the device): the pending call rejects with DeviceError
// promptly, and a new engine created afterwards in the same process computes correctly.
import { describe, expect, it } from 'vitest';
import { childScript, runChild } from './helpers/child.js';

interface ScenarioResult {
  scenario: string;
  lostBy: string;
  error?: string;
  message?: string;
  resolved?: true;
  lost: boolean;
  settledMs: number;
  freshEngine: number[];
}

describe('device loss', () => {
  it('every pending GPU wait rejects with DeviceError, and a new engine works afterwards', async () => {
    const run = await runChild(await childScript('device-loss'), [], { timeoutMs: 180_000 });
    const results = run.results as (ScenarioResult | { done: true })[];
    // The child reached its end (a crash on teardown after that is tolerated; a hang is not).
    expect(run.timedOut, run.stderr.slice(-2000)).toBe(false);
    expect(results.at(-1), run.stderr.slice(-2000)).toEqual({ done: true });
    const scenarios = results.slice(0, -1) as ScenarioResult[];
    expect(scenarios.length).toBe(7 * 2);
    for (const r of scenarios) {
      const what = `${r.scenario} (lost by ${r.lostBy})`;
      expect(r.lost, what).toBe(true);
      expect(r.error, `${what}: ${r.message ?? 'resolved'}`).toBe('DeviceError');
      expect(r.message, what).toMatch(/the GPU device was lost \(destroyed: .*\); create a new engine to continue/);
      // Prompt: not a hang, not a wait for 200 steps of work.
      expect(r.settledMs, what).toBeLessThan(10_000);
      expect(r.freshEngine, what).toEqual([2, 6, 12]);
    }
  });
});
