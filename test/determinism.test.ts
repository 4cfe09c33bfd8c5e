// Determinism across processes: the same seeds give the same tokens in two processes with two
// engines, and image i of a batch in one process equals a single-image run with seed + i in
// another (decode.test.ts checks batch against single within one process). The portable
// kernel paths (no subgroups) give the same tokens as the subgroup paths.
import { describe, expect, it } from 'vitest';
import { childScript, runChild } from './helpers/child.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

type Run = { variant: string; tokens: number[] }[];

async function decodeIn(...args: string[]): Promise<{ runs: Run; subgroups: boolean }> {
  const run = await runChild(await childScript('decode-tokens'), args, { timeoutMs: HANG_GUARD_MS });
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

// The same through the calls users make (test/children/generate-tokens.ts): generate (plain,
// guided, five images so the VQ decoder runs in two chunks, one label for a batch) and
// inpaint's variants on a tiny real MaskGIT, tokens and pixels.
type Generated = { variant: string; images: { tokens: number[]; pixels: string }[] }[];

async function generateIn(...args: string[]): Promise<{ runs: Generated; subgroups: boolean }> {
  const run = await runChild(await childScript('generate-tokens'), args, { timeoutMs: HANG_GUARD_MS });
  expect(run.code, run.stderr.slice(-2000)).toBe(0);
  const results = run.results as (Generated[number] | { subgroups: boolean })[];
  const last = results.pop() as { subgroups: boolean };
  return { runs: results as Generated, subgroups: last.subgroups };
}

describe('determinism across processes: generate and inpaint', () => {
  it('the same seed gives the same tokens and pixels in two processes; image i of a batch equals a single-image run with seed + i', async () => {
    const [a, b, singles] = [await generateIn('batch'), await generateIn('batch'), await generateIn('single')];
    expect(a.runs.map((r) => [r.variant, r.images.length])).toEqual([
      ['plain', 3],
      ['guided', 3],
      ['five images', 5],
      ['one label, batch 3', 3],
      ['inpaint, batch 3', 3],
    ]);
    for (let k = 0; k < a.runs.length; k++) {
      const what = a.runs[k]!.variant;
      expect(a.runs[k]!.images[0]!.tokens.length, what).toBe(64);
      expect(b.runs[k], `${what}: process A vs process B`).toEqual(a.runs[k]);
      expect(singles.runs[k], `${what}: a batch (seed 100) vs single images (seeds 100, 101, ...)`).toEqual(a.runs[k]);
      // Different images got different tokens and pixels (the checks above are not vacuous).
      const [first, second] = a.runs[k]!.images;
      expect(first!.tokens, what).not.toEqual(second!.tokens);
      expect(first!.pixels, what).not.toBe(second!.pixels);
    }
    // The portable kernel paths (subgroups off) give the same tokens and pixels.
    const portable = await generateIn('batch', '--portable');
    expect(portable.subgroups).toBe(false);
    expect(portable.runs).toEqual(a.runs);
  }, HANG_GUARD_MS);
});
