/**
 * The counter-based generator of the decode loop: Philox4x32-10, and its exact TypeScript
 * mirror of kernels/philox.wgsl. Bits and uniforms are identical on every adapter and on
 * the host; Gumbel values go through `log`, whose last bits depend on the adapter.
 *
 * Streams: key = (seed, purpose), counter = (index, position, step, 0). Image i of a batch
 * draws with its own seed (seed + i by default), so it reproduces a single-image run with
 * that seed. Purposes:
 * - SAMPLE_NOISE: Gumbel noise of the token draw; index = floor(v / 4) for vocabulary entry
 *   v, which takes word v % 4 of the call.
 * - CHOICE_NOISE: Gumbel noise of the confidence; index 0, word 0.
 */
export const RNG_PURPOSE = {
  SAMPLE_NOISE: 0,
  CHOICE_NOISE: 1,
  /** Training dropout masks (src/tensor/ops/dropout.ts): index = element / 4, position = site. */
  DROPOUT: 2,
  /** MVTM masks (src/maskgit/train/mvtm.ts): index = word block, position = the draw's place in the data stream. */
  MVTM_MASK: 3,
  /** The order of the training examples in each epoch: index = word block, position = epoch. */
  DATA_ORDER: 4,
} as const;

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32 (exact: 16-bit halves, as in WGSL). */
function mulhi(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const ll = aLo * bLo;
  const lh = aLo * bHi;
  const hl = aHi * bLo;
  const hh = aHi * bHi;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (hh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/** One Philox4x32-10 block: four u32 words for a 4-word counter and a 2-word key. */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): [number, number, number, number] {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      key0 = (key0 + W0) >>> 0;
      key1 = (key1 + W1) >>> 0;
    }
    const hi0 = mulhi(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
  }
  return [x0, x1, x2, x3];
}

/** (2k + 1) * 2^-24 for k = bits >> 9: exact in float32, strictly inside (0, 1). */
export function uniformFromBits(bits: number): number {
  return (((bits >>> 9) << 1) | 1) * 2 ** -24;
}

/**
 * -log(u) as the kernels compute it (float32 after each operation): directly below 1/2,
 * and as 2 atanh(v / (2 - v)) of the exact v = 1 - u above, where log(u) would lose the
 * digits that matter.
 */
export function exponentialFromBits(bits: number): number {
  const f = Math.fround;
  const u = uniformFromBits(bits);
  if (u < 0.5) return f(-Math.log(u));
  const v = 1 - u;
  const s = f(v / f(2 - v));
  const s2 = f(s * s);
  let series = f(1 / 13);
  for (const c of [1 / 11, 1 / 9, 1 / 7, 1 / 5, 1 / 3, 1]) series = f(f(series * s2) + f(c));
  return f(f(2 * s) * series);
}

/** Gumbel noise -log(-log(u)), as the kernels compute it. */
export function gumbelFromBits(bits: number): number {
  return Math.fround(-Math.log(exponentialFromBits(bits)));
}

/** The four words of the stream (seed, purpose) at counter (index, position, step, 0). */
export function streamBlock(seed: number, purpose: number, index: number, position: number, step: number): [number, number, number, number] {
  return philox4x32(index, position, step, 0, seed, purpose);
}

/** Gumbel noise of the token draw for vocabulary entry `v` at (seed, step, position). */
export function sampleNoise(seed: number, step: number, position: number, v: number): number {
  return gumbelFromBits(streamBlock(seed, RNG_PURPOSE.SAMPLE_NOISE, v >>> 2, position, step)[v & 3]!);
}

/** Gumbel noise of the confidence at (seed, step, position). */
export function choiceNoise(seed: number, step: number, position: number): number {
  return gumbelFromBits(streamBlock(seed, RNG_PURPOSE.CHOICE_NOISE, 0, position, step)[0]);
}

/** Per-image seeds: a number gives seed + i for image i (mod 2^32); an array is taken as is. */
export function imageSeeds(seeds: number | readonly number[] | undefined, batch: number): Uint32Array {
  if (seeds === undefined || typeof seeds === 'number') {
    const base = seeds ?? 0;
    return Uint32Array.from({ length: batch }, (_, i) => (base + i) >>> 0);
  }
  return Uint32Array.from(seeds, (s) => s >>> 0);
}
