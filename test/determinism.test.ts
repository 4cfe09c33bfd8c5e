// Determinism across processes: the same seeds give the same tokens in two processes with two
// engines, and image i of a batch in one process equals a single-image run with seed + i in
// another (decode.test.ts checks batch against single within one process). The portable
// kernel paths (no subgroups) give the same tokens as the subgroup paths.
import { describe, expect, it } from 'vitest';
import { childScript, runChild } from './helpers/child.js';

type Run = { variant: string; tokens: number[] }[];

async function decodeIn(...args: string[]): Promise<{ runs: Run; subgroups: boolean }> {
  const run = await runChild(await childScript('decode-tokens'), args, { timeoutMs: 120_000 });
  expect(run.code, run.stderr.slice(-2000)).toBe(0);
  const results = run.results as ({ variant: string; tokens: number[] } | { subgroups: boolean })[];
  const last = results.pop() as { subgroups: boolean };
  return { runs: results as Run, subgroups: last.subgroups };
}

let first: ReturnType<typeof decodeIn> | null = null;
const firstBatch = () => (first ??= decodeIn('batch'));

describe('determinism across processes', () => {
  it('two processes, two engines: the same tokens; a batch in one equals single-image runs in the other', async () => {
    const a = await firstBatch();
    const b = await decodeIn('batch');
    const singles = await decodeIn('single');
    expect(a.runs.map((r) => r.variant)).toEqual(['plain', 'guided']);
    for (let k = 0; k < a.runs.length; k++) {
      const what = a.runs[k]!.variant;
      expect(a.runs[k]!.tokens.length, what).toBe(3 * 65);
      expect(b.runs[k]!.tokens, `${what}: process A vs process B`).toEqual(a.runs[k]!.tokens);
      expect(singles.runs[k]!.tokens, `${what}: batch (seed 100) vs single images (seeds 100, 101, 102)`).toEqual(a.runs[k]!.tokens);
    }
    // Different images got different tokens (the check above is not vacuous).
    const plain = a.runs[0]!.tokens;
    expect(plain.slice(1, 65)).not.toEqual(plain.slice(66, 130));
  });

  it('the portable kernel paths (subgroups off) give the same tokens as the subgroup paths', async () => {
    const withSubgroups = await firstBatch();
    const portable = await decodeIn('batch', '--portable');
    expect(portable.subgroups).toBe(false);
    if (!withSubgroups.subgroups) console.log('determinism: this adapter has no subgroups; both runs took the portable paths');
    expect(portable.runs).toEqual(withSubgroups.runs);
  });
});
