import { ArgumentError } from '../../errors.js';
import { RNG_PURPOSE, streamBlock, uniformFromBits } from '../rng.js';
import { maskRatio, type MaskSchedule } from '../schedule.js';

/**
 * Masked visual token modeling (MVTM), MaskGIT's training objective, exactly as the paper and
 * REFERENCE.md describe it: per example r ~ U[0, 1), mask ceil(gamma(r) * N) of its N image
 * tokens chosen uniformly at random (cosine gamma), and train the cross-entropy on the masked
 * positions only. For classifier-free guidance the class is replaced by the null class with
 * probability `classDropout`.
 *
 * Every random choice is a Philox function of (seed, the example's place in the data stream), so
 * a batch is a pure function of the step: resuming needs nothing but the step.
 */
export interface MaskingOptions {
  seed: number;
  codebookSize: number;
  /** vocab - 1. */
  maskTokenId: number;
  /** The class trained as "no class" (with probability classDropout), or null. */
  nullClassId: number | null;
  /** Default 0.1 when nullClassId is set. */
  classDropout?: number;
  /** Default 'cosine' (the paper's best). */
  schedule?: MaskSchedule;
}

/** A batch ready for the transformer: sequences of 1 class token + N image tokens. */
export interface MaskedBatch {
  /** [B, 1 + N]: class token (class + codebookSize) first, masked positions = maskTokenId. */
  inputs: Int32Array;
  /** [B, 1 + N]: the true token at masked positions, 0 elsewhere. */
  targets: Int32Array;
  /** [B, 1 + N]: 1 at masked positions, 0 elsewhere (the class position is never a target). */
  weights: Float32Array;
  /** Masked tokens per example. */
  masked: Int32Array;
  /** The class each example was conditioned on (after class dropout). */
  classes: Int32Array;
  /** Sum of weights. */
  maskedTotal: number;
}

/** Draws the words of one example's stream (seed, MVTM_MASK) at counter (block, draw). */
class ExampleStream {
  private block = 0;
  private words: number[] = [];
  constructor(
    private readonly seed: number,
    private readonly draw: number,
  ) {}
  next(): number {
    if (this.words.length === 0) this.words = [...streamBlock(this.seed, RNG_PURPOSE.MVTM_MASK, this.block++, this.draw, 0)].reverse();
    return this.words.pop()!;
  }
  uniform(): number {
    return uniformFromBits(this.next());
  }
}

/** The number of tokens MVTM masks for ratio r: ceil(gamma(r) * N), gamma in float32 and clipped to [1e-6, 1]. */
export function maskCount(r: number, n: number, schedule: MaskSchedule = 'cosine'): number {
  return Math.min(n, Math.max(1, Math.ceil(maskRatio(schedule, r, n) * n)));
}

/** One example's random choices: its ratio r in [0, 1), whether its class is dropped, and the masked positions (0..N-1). */
export interface ExampleDraw {
  ratio: number;
  dropClass: boolean;
  masked: Int32Array;
}

/** The random choices of the example at stream position `draw` (a pure function of (seed, draw)). */
export function drawExample(seed: number, draw: number, n: number, schedule: MaskSchedule = 'cosine', classDropout = 0): ExampleDraw {
  const rng = new ExampleStream(seed, draw);
  const ratio = rng.uniform() - 2 ** -24; // uniformFromBits is in (0, 1); this makes it [0, 1)
  const dropClass = rng.uniform() < classDropout;
  const count = maskCount(ratio, n, schedule);
  // The first `count` entries of a partial Fisher-Yates shuffle: a uniform random subset.
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.min(n - i - 1, Math.floor(rng.uniform() * (n - i)));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return { ratio, dropClass, masked: order.slice(0, count) };
}

/**
 * Masks a batch: tokens [B * N] (N image tokens per example), labels [B], and each example's
 * place in the data stream (`draws`, which keys its random choices).
 */
export function maskBatch(tokens: Int32Array, labels: Int32Array, draws: readonly number[], options: MaskingOptions): MaskedBatch {
  const batch = labels.length;
  if (batch === 0 || tokens.length % batch !== 0) throw new ArgumentError('tokens', `${tokens.length} tokens do not split into ${batch} examples`);
  if (draws.length !== batch) throw new ArgumentError('draws', `needs one per example (${batch}), got ${draws.length}`);
  const n = tokens.length / batch;
  const schedule = options.schedule ?? 'cosine';
  const classDropout = options.nullClassId === null ? 0 : (options.classDropout ?? 0.1);
  if (!(classDropout >= 0 && classDropout <= 1)) throw new ArgumentError('classDropout', `must be in [0, 1], got ${classDropout}`);
  const L = n + 1;
  const out: MaskedBatch = {
    inputs: new Int32Array(batch * L),
    targets: new Int32Array(batch * L),
    weights: new Float32Array(batch * L),
    masked: new Int32Array(batch),
    classes: new Int32Array(batch),
    maskedTotal: 0,
  };
  for (let b = 0; b < batch; b++) {
    const { masked: positions, dropClass } = drawExample(options.seed, draws[b]!, n, schedule, classDropout);
    const count = positions.length;
    const cls = dropClass ? options.nullClassId! : labels[b]!;
    out.classes[b] = cls;
    const row = b * L;
    out.inputs[row] = cls + options.codebookSize;
    for (let i = 0; i < n; i++) out.inputs[row + 1 + i] = tokens[b * n + i]!;
    for (let i = 0; i < count; i++) {
      const at = row + 1 + positions[i]!;
      out.targets[at] = out.inputs[at]!;
      out.inputs[at] = options.maskTokenId;
      out.weights[at] = 1;
    }
    out.masked[b] = count;
    out.maskedTotal += count;
  }
  return out;
}

/** Token sequences of labelled images: tokens [count, N] and a label per image. */
export interface TokenData {
  tokens: Int32Array;
  labels: Int32Array;
  count: number;
  /** Image tokens per example (N). */
  length: number;
}

/**
 * The training order: epoch e visits the examples in a uniformly random permutation drawn from
 * (seed, e); the stream is the concatenation of the epochs, and step s takes its entries
 * s*B .. s*B + B - 1. A pure function of (seed, position): resuming needs only the position.
 */
export class TrainingOrder {
  private epochCached = -1;
  private permutation: Int32Array = new Int32Array(0);

  constructor(
    readonly count: number,
    readonly seed: number,
  ) {
    if (!Number.isInteger(count) || count < 1) throw new ArgumentError('count', `must be a positive integer, got ${count}`);
  }

  /** The example at stream position `position`. */
  at(position: number): number {
    const epoch = Math.floor(position / this.count);
    if (epoch !== this.epochCached) {
      this.permutation = epochPermutation(this.count, this.seed, epoch);
      this.epochCached = epoch;
    }
    return this.permutation[position - epoch * this.count]!;
  }
}

function epochPermutation(count: number, seed: number, epoch: number): Int32Array {
  const p = Int32Array.from({ length: count }, (_, i) => i);
  let words: number[] = [];
  let block = 0;
  for (let i = count - 1; i > 0; i--) {
    if (words.length === 0) words = [...streamBlock(seed, RNG_PURPOSE.DATA_ORDER, block++, epoch, 0)];
    const j = Math.min(i, Math.floor(uniformFromBits(words.pop()!) * (i + 1)));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** The examples of one step: their tokens [B * N], labels and stream positions. */
export function batchAt(data: TokenData, order: TrainingOrder, step: number, batchSize: number): { tokens: Int32Array; labels: Int32Array; draws: number[] } {
  const tokens = new Int32Array(batchSize * data.length);
  const labels = new Int32Array(batchSize);
  const draws: number[] = [];
  for (let b = 0; b < batchSize; b++) {
    const position = step * batchSize + b;
    const e = order.at(position);
    tokens.set(data.tokens.subarray(e * data.length, (e + 1) * data.length), b * data.length);
    labels[b] = data.labels[e]!;
    draws.push(position);
  }
  return { tokens, labels, draws };
}
