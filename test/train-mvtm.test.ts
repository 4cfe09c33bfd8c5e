// MVTM (src/maskgit/train/mvtm.ts): the masking follows the paper exactly, batches are pure
// functions of (seed, stream position), and only masked positions enter the loss.
import { describe, expect, it } from 'vitest';
import { backward, grad, maskRatio, parameter } from '../src/node.js';
import { batchAt, drawExample, maskBatch, maskCount, TrainingOrder, type TokenData } from '../src/maskgit/train/mvtm.js';
import { getEngine } from './helpers/engine.js';
import { randomInts, uniform } from './helpers/random.js';

const N = 64;
const options = { seed: 5, codebookSize: 256, maskTokenId: 266, nullClassId: 9, classDropout: 0.1 };

describe('MVTM masking', () => {
  it('masks ceil(gamma(r) N) tokens per example, r uniform in [0, 1), cosine gamma', () => {
    const draws = 20_000;
    const counts = new Int32Array(N + 1);
    let below = 0;
    for (let d = 0; d < draws; d++) {
      const ex = drawExample(options.seed, d, N, 'cosine', 0.1);
      expect(ex.ratio).toBeGreaterThanOrEqual(0);
      expect(ex.ratio).toBeLessThan(1);
      // The count is exactly ceil(gamma(r) * N) with gamma the float32 cosine, clipped: >= 1.
      expect(ex.masked.length).toBe(Math.ceil(maskRatio('cosine', ex.ratio, N) * N));
      expect(ex.masked.length).toBe(maskCount(ex.ratio, N));
      expect(new Set(ex.masked).size).toBe(ex.masked.length);
      expect(Math.min(...ex.masked)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...ex.masked)).toBeLessThan(N);
      counts[ex.masked.length]!++;
      if (ex.ratio < 0.5) below++;
    }
    // r is uniform: P(r < 1/2) = 1/2 (binomial sd 0.0035; 5 sd).
    expect(Math.abs(below / draws - 0.5)).toBeLessThan(0.018);
    // The count's distribution: P(count <= k) = P(cos(pi r / 2) <= k / N) = 1 - (2 / pi) acos(k / N).
    let cdf = 0;
    let worst = 0;
    for (let k = 0; k <= N; k++) {
      cdf += counts[k]! / draws;
      worst = Math.max(worst, Math.abs(cdf - (1 - (2 / Math.PI) * Math.acos(k / N))));
    }
    // Kolmogorov-Smirnov at 20,000 draws: 1.63 / sqrt(n) = 0.0115 at the 1% level.
    expect(worst).toBeLessThan(0.0115);
    expect(counts[0]).toBe(0);
  });

  it('picks the masked positions uniformly, and drops the class to the null class 10% of the time', () => {
    const hits = new Float64Array(N);
    let dropped = 0;
    let expected = 0;
    const draws = 20_000;
    for (let d = 0; d < draws; d++) {
      const ex = drawExample(9, d, N, 'cosine', 0.1);
      for (const p of ex.masked) hits[p]++;
      expected += ex.masked.length / N;
      if (ex.dropClass) dropped++;
    }
    // Each position is masked with the same probability: E[count] / N (here ~0.64).
    for (let p = 0; p < N; p++) expect(Math.abs(hits[p]! / expected - 1)).toBeLessThan(0.03);
    expect(Math.abs(dropped / draws - 0.1)).toBeLessThan(0.011);
  });

  it('builds inputs, targets and weights: class token first, mask id at masked positions only', () => {
    const B = 16;
    const tokens = Int32Array.from(randomInts(B * N, 1, 0, 256));
    const labels = Int32Array.from(randomInts(B, 2, 0, 9));
    const draws = Array.from({ length: B }, (_, b) => 100 + b);
    const batch = maskBatch(tokens, labels, draws, options);
    let total = 0;
    for (let b = 0; b < B; b++) {
      const ex = drawExample(options.seed, draws[b]!, N, 'cosine', 0.1);
      const row = b * (N + 1);
      expect(batch.inputs[row]).toBe((ex.dropClass ? 9 : labels[b]!) + 256);
      expect(batch.weights[row]).toBe(0);
      const masked = new Set(ex.masked);
      for (let i = 0; i < N; i++) {
        const at = row + 1 + i;
        if (masked.has(i)) {
          expect(batch.inputs[at]).toBe(266);
          expect(batch.targets[at]).toBe(tokens[b * N + i]);
          expect(batch.weights[at]).toBe(1);
        } else {
          expect(batch.inputs[at]).toBe(tokens[b * N + i]);
          expect(batch.weights[at]).toBe(0);
        }
      }
      expect(batch.masked[b]).toBe(ex.masked.length);
      total += ex.masked.length;
    }
    expect(batch.maskedTotal).toBe(total);
    // The same draws give the same batch (resuming needs only the stream position).
    expect(maskBatch(tokens, labels, draws, options)).toEqual(batch);
  });

  it('visits every example once per epoch, in a seeded order that is the same on every call', () => {
    const count = 37;
    const data: TokenData = { tokens: Int32Array.from({ length: count * 4 }, (_, i) => Math.floor(i / 4)), labels: new Int32Array(count), count, length: 4 };
    const order = new TrainingOrder(count, 3);
    const epoch0 = Array.from({ length: count }, (_, i) => order.at(i));
    const epoch1 = Array.from({ length: count }, (_, i) => order.at(count + i));
    expect([...epoch0].sort((a, b) => a - b)).toEqual([...Array(count).keys()]);
    expect([...epoch1].sort((a, b) => a - b)).toEqual([...Array(count).keys()]);
    expect(epoch1).not.toEqual(epoch0);
    // A fresh order (a resumed run) gives the same batches at the same steps.
    const again = new TrainingOrder(count, 3);
    expect(batchAt(data, again, 5, 8)).toEqual(batchAt(data, order, 5, 8));
    expect(batchAt(data, order, 5, 8).tokens.filter((_, i) => i % 4 === 0)).toEqual(Int32Array.from({ length: 8 }, (_, b) => order.at(40 + b)));
    expect(new TrainingOrder(count, 4).at(0) === order.at(0) && new TrainingOrder(count, 4).at(1) === order.at(1)).toBe(false);
  });
});

describe('the MVTM loss', () => {
  it('takes only masked positions: zero gradient elsewhere, and the mean label-smoothed CE over masked tokens', async () => {
    const engine = await getEngine();
    const [B, C] = [4, 256];
    const L = N + 1;
    const tokens = Int32Array.from(randomInts(B * N, 3, 0, C));
    const batch = maskBatch(tokens, Int32Array.from([0, 1, 2, 3]), [0, 1, 2, 3], options);
    const x = uniform(B * L * C, 4, -3, 3);
    const logits = parameter(engine.tensor(x, [B * L, C]));
    const loss = grad.softmaxCrossEntropy(logits, engine.tensor(batch.targets, [B * L], 'i32'), engine.tensor(batch.weights, [B * L]), {
      smoothing: 0.1,
      weightSum: batch.maskedTotal,
    });
    const value = (await loss.value.read())[0]!;
    backward(loss);
    const g = await logits.grad!.read();
    let expected = 0;
    for (let r = 0; r < B * L; r++) {
      const row = g.subarray(r * C, (r + 1) * C);
      if (batch.weights[r] === 0) {
        expect(row.every((v) => v === 0), `row ${r} is not masked`).toBe(true);
        continue;
      }
      expect(row.some((v) => v !== 0)).toBe(true);
      const z = x.subarray(r * C, (r + 1) * C);
      const max = Math.max(...z);
      const lse = max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0));
      const t = batch.targets[r]!;
      let ce = 0;
      for (let c = 0; c < C; c++) ce -= ((c === t ? 0.9 : 0) + 0.1 / C) * (z[c]! - lse);
      expected += ce / batch.maskedTotal;
    }
    expect(Math.abs(value - expected)).toBeLessThan(1e-4 * expected);
  });
});
