import { describe, expect, it } from 'vitest';
import { filteredDistribution, referenceSample, sampleStep, ShapeError, type Engine, type SampleStepOptions } from '../src/node.js';
import { getEngine } from './helpers/engine.js';
import { normal, rng } from './helpers/random.js';

const MASK = 99;

/** Upper 0.001 quantiles of chi-square for 1..20 degrees of freedom (standard tables). */
const CHI2_999 = [10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588, 31.264, 32.909, 34.528, 36.123, 37.697, 39.252, 40.79, 42.312, 43.82, 45.315];

/** Upper quantile of chi-square with `dof` degrees of freedom at p = 0.001 (Wilson-Hilferty past the table). */
function chiSquareCritical(dof: number): number {
  if (dof <= CHI2_999.length) return CHI2_999[dof - 1]!;
  const z = 3.090232; // standard normal upper 0.001 quantile
  const a = 2 / (9 * dof);
  return dof * (1 - a + z * Math.sqrt(a)) ** 3;
}

/** Pearson's statistic, pooling categories expected fewer than 5 times into one. */
function chiSquare(counts: number[], expected: number[]): { stat: number; dof: number } {
  let stat = 0;
  let cells = 0;
  let poolO = 0;
  let poolE = 0;
  for (let v = 0; v < counts.length; v++) {
    if (expected[v]! === 0) continue;
    if (expected[v]! < 5) {
      poolO += counts[v]!;
      poolE += expected[v]!;
      continue;
    }
    stat += (counts[v]! - expected[v]!) ** 2 / expected[v]!;
    cells++;
  }
  if (poolE > 0) {
    stat += (poolO - poolE) ** 2 / poolE;
    cells++;
  }
  return { stat, dof: cells - 1 };
}

/** Draws one token per row of `rows` identical logits rows, over `steps` steps. */
async function draw(engine: Engine, row: Float32Array, options: Partial<SampleStepOptions>, steps: number): Promise<number[]> {
  const batch = 4;
  const length = 2048;
  const C = row.length;
  const logits = engine.tensor(new Float32Array(batch * length * C).map((_, i) => row[i % C]!), [batch, length, C]);
  const tokens = engine.tensor(new Int32Array(batch * length).fill(MASK), [batch, length], 'i32');
  const seeds = engine.tensor(Uint32Array.from([11, 12, 13, 14]), [batch], 'u32');
  const counts = new Array<number>(C).fill(0);
  for (let step = 0; step < steps; step++) {
    const { sampled, confidence } = sampleStep(logits, tokens, seeds, { codebookSize: C, maskTokenId: MASK, step, temperature: 1, choiceScale: 0, ...options });
    for (const t of await sampled.read()) counts[t]!++;
    sampled.dispose();
    confidence.dispose();
  }
  for (const t of [logits, tokens, seeds]) t.dispose();
  return counts;
}

const ROW = Float32Array.from([2.0, 1.5, 1.2, 1.0, 0.8, 0.5, 0.3, 0.0, -0.2, -0.5, -0.8, -1.0, -1.5, -2.0, -2.5, -3.0]);
const DRAWS = 4 * 2048 * 4;

describe('sampling matches softmax(logits / T) (chi-square, 32768 draws, p = 0.001)', () => {
  const cases: { name: string; options: Partial<SampleStepOptions> }[] = [
    { name: 'temperature 1', options: { temperature: 1 } },
    { name: 'temperature 0.7', options: { temperature: 0.7 } },
    { name: 'temperature 1.6', options: { temperature: 1.6 } },
    { name: 'top-k 5', options: { temperature: 1, topK: 5 } },
    { name: 'top-p 0.8', options: { temperature: 1, topP: 0.8 } },
    { name: 'top-k 6 then top-p 0.7 at temperature 0.8', options: { temperature: 0.8, topK: 6, topP: 0.7 } },
  ];
  for (const { name, options } of cases) {
    it(name, async () => {
      const engine = await getEngine();
      const counts = await draw(engine, ROW, options, 4);
      const p = filteredDistribution(ROW, options.temperature!, options.topK ?? 0, options.topP ?? 1);
      // The cut of top-p must not sit on a boundary the float32 sums could move.
      const expected = [...p].map((q) => q * DRAWS);
      const { stat, dof } = chiSquare(counts, expected);
      const critical = chiSquareCritical(dof);
      expect(stat, `chi-square ${stat.toFixed(2)}, ${dof} dof, critical ${critical.toFixed(2)}; counts ${counts}`).toBeLessThan(critical);
      // Filtered-out entries are never drawn.
      for (let v = 0; v < ROW.length; v++) if (p[v] === 0) expect(counts[v], `entry ${v}`).toBe(0);
      if (options.topK && !options.topP) expect(p.filter((q) => q > 0).length).toBe(options.topK);
      // Power: the same counts are far from the unfiltered softmax at temperature 1 when the
      // case differs from it (the test can fail).
      if (name !== 'temperature 1') {
        const other = chiSquare(counts, [...filteredDistribution(ROW, 1)].map((q) => q * DRAWS));
        expect(other.stat).toBeGreaterThan(10 * chiSquareCritical(other.dof));
      }
    });
  }

  it('ties in top-k are kept; top-p keeps the smallest head holding p', () => {
    const row = [3, 2, 2, 2, 1, 0];
    expect([...filteredDistribution(row, 1, 2)].map((q) => q > 0)).toEqual([true, true, true, true, false, false]);
    const p = filteredDistribution([Math.log(0.5), Math.log(0.3), Math.log(0.2)], 1, 0, 0.6);
    expect([...p].map((q) => q > 0)).toEqual([true, true, false]); // 0.5 < 0.6 <= 0.8
    expect([...filteredDistribution([Math.log(0.5), Math.log(0.3), Math.log(0.2)], 1, 0, 0.5)].map((q) => q > 0)).toEqual([true, false, false]);
  });
});

describe('one sampling step against the host reference (official size: C = 1024, L = 257)', () => {
  for (const guided of [false, true]) {
    it(`draws and confidences on the same Philox streams${guided ? ', guided' : ''}`, async () => {
      const engine = await getEngine();
      const batch = 2;
      const length = 257;
      const C = 1024;
      const vocab = 2025;
      const rows = guided ? 2 * batch : batch;
      const logitsHost = normal(rows * length * vocab, 3, 2);
      const r = rng(4);
      const tokensHost = new Int32Array(batch * length).fill(2024);
      for (let b = 0; b < batch; b++) {
        tokensHost[b * length] = 1024 + 7 * b; // the class token
        for (let i = 1; i < length; i++) if (r() < 0.3) tokensHost[b * length + i] = Math.floor(r() * C);
      }
      const seedsHost = Uint32Array.from([5, 6]);
      const options = { codebookSize: C, maskTokenId: 2024, step: 3, temperature: 1, choiceScale: 3.1, ...(guided ? { guidance: 2.5 } : {}) };
      const gpu = sampleStep(engine.tensor(logitsHost, [rows, length, vocab]), engine.tensor(tokensHost, [batch, length], 'i32'), engine.tensor(seedsHost, [batch], 'u32'), options);
      const sampled = await gpu.sampled.read();
      const confidence = await gpu.confidence.read();
      const host = referenceSample(logitsHost, tokensHost, batch, length, vocab, 3, {
        ...options,
        steps: 8,
        seeds: seedsHost,
        sampleTemperature: 1,
      });
      expect([...sampled]).toEqual([...host.sampled]);
      let worst = 0;
      for (let i = 0; i < confidence.length; i++) {
        if (tokensHost[i] !== 2024) {
          expect(confidence[i]).toBe(Infinity); // known positions, the class token included
          expect(sampled[i]).toBe(tokensHost[i]);
        } else worst = Math.max(worst, Math.abs(confidence[i]! - host.confidence[i]!));
      }
      // log p over 1024 entries in float32 (vs float64) plus 3.1 x the Gumbel noise's 2e-6.
      expect(worst).toBeLessThan(5e-5);
    });
  }

  it('f16 logits: the argmax of the stored halves, log p to f16 input precision', async () => {
    const engine = await getEngine();
    if (!engine.hasF16) return;
    const length = 17;
    const C = 33;
    const values = normal(length * C, 8, 2);
    const logits = engine.tensor(values, [1, length, C], 'f16');
    const halves = (await logits.read()) as Float32Array;
    const tokens = engine.tensor(new Int32Array(length).fill(MASK), [1, length], 'i32');
    const out = sampleStep(logits, tokens, engine.tensor([1], [1], 'u32'), { codebookSize: C, maskTokenId: MASK, step: 0, temperature: 0, choiceScale: 0 });
    const host = referenceSample(halves, new Int32Array(length).fill(MASK), 1, length, C, 0, {
      codebookSize: C,
      maskTokenId: MASK,
      steps: 1,
      seeds: Uint32Array.from([1]),
      sampleTemperature: 0,
      choiceScale: 0,
    });
    expect([...(await out.sampled.read())]).toEqual([...host.sampled]);
    const conf = await out.confidence.read();
    for (let i = 0; i < length; i++) expect(Math.abs(conf[i]! - host.confidence[i]!)).toBeLessThan(1e-5);
  });

  it('temperature 0 ignores top-k / top-p and takes the first of equal maxima', async () => {
    const engine = await getEngine();
    const row = [0, 5, 1, 5, 2];
    const logits = engine.tensor(row, [1, 1, 5]);
    const tokens = engine.tensor([MASK], [1, 1], 'i32');
    const seeds = engine.tensor([0], [1], 'u32');
    for (const extra of [{}, { topK: 1 }, { topP: 0.1 }]) {
      const out = sampleStep(logits, tokens, seeds, { codebookSize: 5, maskTokenId: MASK, step: 0, temperature: 0, choiceScale: 0, ...extra });
      expect([...(await out.sampled.read())]).toEqual([1]);
      expect((await out.confidence.read())[0]).toBeCloseTo(5 - Math.log(2 * Math.exp(5) + Math.exp(0) + Math.exp(1) + Math.exp(2)), 6);
    }
  });

  it('never samples past the codebook slice, and checks shapes', async () => {
    const engine = await getEngine();
    // Entries past C have huge logits: they must not be drawn nor count in log p.
    const row = [0, 1, 2, 100, 100];
    const out = sampleStep(engine.tensor(row, [1, 1, 5]), engine.tensor([MASK], [1, 1], 'i32'), engine.tensor([0], [1], 'u32'), {
      codebookSize: 3,
      maskTokenId: MASK,
      step: 0,
      temperature: 0,
      choiceScale: 0,
    });
    expect([...(await out.sampled.read())]).toEqual([2]);
    expect((await out.confidence.read())[0]).toBeCloseTo(-Math.log(1 + Math.exp(-1) + Math.exp(-2)), 6);
    const seeds = engine.tensor([0], [1], 'u32');
    expect(() => sampleStep(engine.tensor(row, [5]), engine.tensor([MASK], [1, 1], 'i32'), seeds, { codebookSize: 3, maskTokenId: MASK, step: 0, temperature: 0, choiceScale: 0 })).toThrow(ShapeError);
    expect(() => sampleStep(engine.tensor(row, [1, 1, 5]), engine.tensor([MASK, MASK], [1, 2], 'i32'), seeds, { codebookSize: 3, maskTokenId: MASK, step: 0, temperature: 0, choiceScale: 0 })).toThrow(ShapeError);
    expect(() => sampleStep(engine.tensor(row, [1, 1, 5]), engine.tensor([MASK], [1, 1], 'i32'), seeds, { codebookSize: 3, maskTokenId: MASK, step: 0, temperature: 0, choiceScale: 0, guidance: 2 })).toThrow(ShapeError);
  });
});
