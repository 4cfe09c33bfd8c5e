/**
 * The one time limit of the suite: a hang guard, never a pass condition. A loaded 2-core
 * machine ran single tests past 120 s (ort-peer, matmul), so the guard sits far above the
 * slowest loaded case; vitest's default, per-test limits, hooks, child processes and page
 * waits all use it.
 */
export const HANG_GUARD_MS = 30 * 60_000;
