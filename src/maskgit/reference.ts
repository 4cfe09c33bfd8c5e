/**
 * The official MaskGIT decoding algorithm in plain TypeScript on host arrays: given the
 * logits of each step, the tokens. It is the oracle of the GPU decode loop (decode.ts):
 * same rules, same schedule arithmetic (float32, schedule.ts), same noise streams (rng.ts),
 * but float64 softmax arithmetic, host sorts and no GPU.
 */
import { ArgumentError } from '../errors.js';
import { checkSchedule, checkSteps, maskLength, scheduleCuts, stepRatio, type MaskSchedule } from './schedule.js';
import { choiceNoise, sampleNoise } from './rng.js';

export interface ReferenceOptions {
  codebookSize: number;
  maskTokenId: number;
  steps: number;
  schedule?: MaskSchedule;
  startStep?: number;
  sampleTemperature?: number;
  choiceTemperature?: number;
  topK?: number;
  topP?: number;
  /** Guidance scale per step (t -> s); the logits then hold 2B rows, conditional first. */
  guidanceAt?: (step: number) => number;
  /** One seed per image. */
  seeds: Uint32Array;
}

/** Logits [B', L, V] for the tokens [B', L] of a step (B' = 2B with guidance). */
export type LogitsFn = (tokens: Int32Array, step: number) => Float32Array | Promise<Float32Array>;

/**
 * The tokens each row keeps after top-k (ties kept) then top-p over the tempered,
 * renormalised distribution (entries whose strictly larger kept entries hold less than p of
 * the kept mass). Returns the kept probabilities (0 for the dropped entries), summing to 1.
 */
export function filteredDistribution(row: ArrayLike<number>, temperature: number, topK = 0, topP = 1): Float64Array {
  const n = row.length;
  let max = -Infinity;
  for (let v = 0; v < n; v++) max = Math.max(max, row[v]!);
  const order = Array.from({ length: n }, (_, v) => v).sort((a, b) => row[b]! - row[a]!);
  const kept = new Uint8Array(n).fill(1);
  if (topK > 0 && topK < n) {
    const kth = row[order[topK - 1]!]!;
    for (let v = 0; v < n; v++) if (row[v]! < kth) kept[v] = 0;
  }
  const weight = Float64Array.from({ length: n }, (_, v) => (kept[v] ? Math.exp((row[v]! - max) / temperature) : 0));
  if (topP < 1) {
    const total = weight.reduce((a, b) => a + b, 0);
    // Mass of the kept entries strictly larger than each value, walking down the order.
    let above = 0;
    for (let i = 0; i < n; ) {
      let j = i;
      let tied = 0;
      while (j < n && row[order[j]!] === row[order[i]!]) tied += weight[order[j++]!]!;
      if (above >= topP * total) for (let k = i; k < j; k++) kept[order[k]!] = 0;
      above += tied;
      i = j;
    }
    for (let v = 0; v < n; v++) if (!kept[v]) weight[v] = 0;
  }
  const total = weight.reduce((a, b) => a + b, 0);
  return weight.map((w) => w / total);
}

export interface ReferenceStep {
  sampled: Int32Array;
  confidence: Float64Array;
}

/**
 * One step's sampling and confidence on the host for B images (rows of `logits` [B', L, V],
 * guided when `guidance` is given): the rules of kernels/sample.wgsl.
 */
export function referenceSample(
  logits: Float32Array,
  tokens: Int32Array,
  batch: number,
  length: number,
  vocab: number,
  step: number,
  options: ReferenceOptions & { choiceScale: number; guidance?: number },
): ReferenceStep {
  const { codebookSize: C, maskTokenId, seeds } = options;
  const temperature = options.sampleTemperature ?? 1;
  const sampled = new Int32Array(batch * length);
  const confidence = new Float64Array(batch * length);
  const row = new Float32Array(C);
  for (let b = 0; b < batch; b++) {
    for (let pos = 0; pos < length; pos++) {
      const at = b * length + pos;
      if (tokens[at] !== maskTokenId) {
        sampled[at] = tokens[at]!;
        confidence[at] = Infinity;
        continue;
      }
      const base = at * vocab;
      const uncond = batch * length * vocab;
      for (let v = 0; v < C; v++) {
        const c = logits[base + v]!;
        if (options.guidance === undefined) row[v] = c;
        else {
          const u = logits[base + uncond + v]!;
          row[v] = Math.fround(u + Math.fround(options.guidance * Math.fround(c - u)));
        }
      }
      let max = -Infinity;
      for (let v = 0; v < C; v++) max = Math.max(max, row[v]!);
      let sum = 0;
      for (let v = 0; v < C; v++) sum += Math.exp(row[v]! - max);
      let choice = 0;
      if (temperature === 0) {
        for (let v = 1; v < C; v++) if (row[v]! > row[choice]!) choice = v;
      } else {
        const kept = filteredDistribution(row, temperature, options.topK ?? 0, options.topP ?? 1);
        let best = -Infinity;
        for (let v = 0; v < C; v++) {
          if (kept[v] === 0) continue;
          const score = Math.fround(Math.fround(row[v]! / temperature) + sampleNoise(seeds[b]!, step, pos, v));
          if (score > best) {
            best = score;
            choice = v;
          }
        }
      }
      sampled[at] = choice;
      confidence[at] = row[choice]! - max - Math.log(sum) + (options.choiceScale !== 0 ? options.choiceScale * choiceNoise(seeds[b]!, step, pos) : 0);
    }
  }
  return { sampled, confidence };
}

/**
 * The official decode: `initial` holds B sequences [B, L] (class token first, the mask id
 * at unknown positions); `logitsFor` gives each step's logits for the current tokens.
 * With guidance, `uncondClassToken` replaces the class token of the B unconditional rows.
 * Returns the final tokens [B, L] (the last step's draws, every position filled).
 */
export async function referenceDecode(
  logitsFor: LogitsFn,
  initial: Int32Array,
  batch: number,
  vocab: number,
  options: ReferenceOptions,
  uncondClassToken?: number,
): Promise<Int32Array> {
  const { maskTokenId, steps } = options;
  const schedule = options.schedule ?? 'cosine';
  checkSchedule(schedule);
  const start = options.startStep ?? 0;
  checkSteps(steps, start);
  const length = initial.length / batch;
  const guided = options.guidanceAt !== undefined;
  if (guided && uncondClassToken === undefined) throw new ArgumentError('uncondClassToken', 'guidance needs the unconditional class token');
  const tokens = Int32Array.from(initial);
  const cuts: number[][] = [];
  for (let b = 0; b < batch; b++) {
    let unknown = 0;
    for (let i = 0; i < length; i++) if (tokens[b * length + i] === maskTokenId) unknown++;
    cuts.push(scheduleCuts(schedule, unknown, steps));
  }
  for (let t = start; t < steps; t++) {
    let input = tokens;
    if (guided) {
      input = new Int32Array(2 * batch * length);
      input.set(tokens);
      input.set(tokens, batch * length);
      for (let b = 0; b < batch; b++) input[(batch + b) * length] = uncondClassToken!;
    }
    const logits = await logitsFor(input, t);
    const ratio = stepRatio(t, steps);
    const choiceScale = Math.fround((options.choiceTemperature ?? 4.5) * Math.fround(1 - ratio));
    const { sampled, confidence } = referenceSample(logits, tokens, batch, length, vocab, t, {
      ...options,
      choiceScale,
      ...(guided ? { guidance: options.guidanceAt!(t) } : {}),
    });
    if (t === steps - 1) return sampled;
    for (let b = 0; b < batch; b++) {
      const rowConf = confidence.subarray(b * length, (b + 1) * length);
      let unknown = 0;
      for (let i = 0; i < length; i++) if (tokens[b * length + i] === maskTokenId) unknown++;
      const maskLen = maskLength(unknown, cuts[b]![t]!);
      const sorted = Float64Array.from(rowConf).sort();
      const cutoff = maskLen >= length ? Infinity : sorted[maskLen]!;
      for (let i = 0; i < length; i++) {
        const at = b * length + i;
        if (tokens[at] !== maskTokenId) continue;
        tokens[at] = rowConf[i]! < cutoff ? maskTokenId : sampled[at]!;
      }
    }
  }
  return tokens; // unreachable: the loop returns at its last step
}
