// The class-consistency evaluation: mapping the model's classes onto the dataset's, and
// `maskgit evaluate` end to end on a tiny random model (report fields, files, seeds that do not
// depend on batching, errors). Accuracy is not asserted: the weights are random.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodePNG } from '../src/io/png.js';
import { modelClassesFor, type ClassConsistencyReport } from '../src/maskgit/train/class-consistency.js';
import { writeModelFolder } from '../src/node.js';
import { tinyConfig, tinyTensors } from './helpers/tiny-maskgit.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

const root = resolve(__dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'maskgit-evaluate-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The emoji categories in the dataset's order (src/io/emoji.ts). */
const EMOJI_CLASSES = ['Smileys & Emotion', 'People & Body', 'Animals & Nature', 'Food & Drink', 'Travel & Places', 'Activities', 'Objects', 'Symbols', 'Flags'];

describe('modelClassesFor', () => {
  it('maps by name when the model names its classes, by position (skipping the null class) when not', () => {
    const names = ['a', 'b', 'c'];
    expect(modelClassesFor({ numClasses: 4, nullClassId: 3, classNames: ['c', 'a', 'b', 'none'] }, names)).toEqual([1, 2, 0]);
    expect(modelClassesFor({ numClasses: 4, nullClassId: 0, classNames: undefined }, names)).toEqual([1, 2, 3]);
    expect(modelClassesFor({ numClasses: 3, nullClassId: null }, names)).toEqual([0, 1, 2]);
    expect(() => modelClassesFor({ numClasses: 3, nullClassId: null, classNames: ['a', 'b', 'd'] }, names)).toThrow(/do not include the dataset's class "c"/);
    expect(() => modelClassesFor({ numClasses: 3, nullClassId: 2, classNames: ['a', 'b', 'c'] }, names)).toThrow(/do not include the dataset's class "c"/);
    expect(() => modelClassesFor({ numClasses: 4, nullClassId: null }, names)).toThrow(/has 4 classes \(besides a null class\) and no classNames, but the dataset has 3/);
  });
});

describe('maskgit evaluate', () => {
  it('scores a tiny random model: report fields, sample grid, batch-independent seeds, one-line errors', { timeout: HANG_GUARD_MS }, async () => {
    execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { cwd: work, encoding: 'utf8' });
    // 9 emoji classes plus a null class (as a model trained with class dropout has).
    const named = { ...tinyConfig({ classes: 10, nullClass: 9 }), classNames: [...EMOJI_CLASSES, 'none'] };
    await writeModelFolder(join(work, 'named'), named, tinyTensors(named));
    const unnamed = tinyConfig({ classes: 10 });
    await writeModelFolder(join(work, 'unnamed'), unnamed, tinyTensors(unnamed));
    const common = ['--model', 'named', '--samples-per-class', '3', '--steps', '2', '--sets', 'twitter', '--seed', '5'];

    const r = cli('evaluate', ...common, '--json', '--batch', '2', '--out', 'a');
    expect(r.status, r.stderr).toBe(0);
    const printed = JSON.parse(r.stdout.trim()) as ClassConsistencyReport & { files: string[]; sets: string[] };
    const report = JSON.parse(readFileSync(join(work, 'a/class-consistency.json'), 'utf8')) as typeof printed;
    expect(report).toEqual(printed);
    expect(report).toMatchObject({ numClasses: 9, samplesPerClass: 3, steps: 2, seed: 5, sets: ['twitter'], classNames: EMOJI_CLASSES, chance: 1 / 9 });
    expect(report.classifier).toMatchObject({ kind: 'knn', k: 5, metric: 'l2', featureSize: 8 });
    expect((report as unknown as { sampling: unknown }).sampling).toEqual({ schedule: 'cosine', sampleTemperature: 1, choiceTemperature: 4.5 });
    expect(report.files).toEqual(['a/class-consistency.json', 'a/class-consistency.png']);
    expect(report.generated.count).toBe(27);
    expect(report.perClass.map((c) => c.modelClass)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    // The figures agree with the confusion matrices they come from.
    const diagonal = (m: number[][]) => m.reduce((s, row, i) => s + row[i]!, 0);
    const total = (m: number[][]) => m.flat().reduce((a, b) => a + b, 0);
    expect(report.generated.confusion.map((row) => row.reduce((a, b) => a + b, 0))).toEqual(new Array(9).fill(3));
    expect(report.generatedAccuracy).toBeCloseTo(diagonal(report.generated.confusion) / 27, 12);
    expect(total(report.heldOut.confusion)).toBe(report.heldOut.count);
    expect(report.heldOutAccuracy).toBeCloseTo(diagonal(report.heldOut.confusion) / report.heldOut.count, 12);
    expect(report.ratio).toBeCloseTo(report.generatedAccuracy / report.heldOutAccuracy, 12);
    const heldCounts = report.heldOut.confusion.map((row) => row.reduce((a, b) => a + b, 0));
    expect(report.majorityRate).toBeCloseTo(Math.max(...heldCounts) / report.heldOut.count, 12);
    expect(report.majorityClass).toBe(EMOJI_CLASSES[heldCounts.indexOf(Math.max(...heldCounts))]);
    report.perClass.forEach((c, i) => {
      expect(c.name).toBe(EMOJI_CLASSES[i]);
      expect(c.generated).toBeCloseTo(report.generated.confusion[i]![i]! / 3, 12);
      expect(c.heldOutImages).toBe(heldCounts[i]);
    });
    // The classifier is real (well above the majority rate on real images), whatever the model.
    expect(report.heldOutAccuracy).toBeGreaterThan(report.majorityRate + 0.2);
    // One row per class, three 64 px tiles (32 px x2) in 2 px frames per row.
    const grid = decodePNG(readFileSync(join(work, 'a/class-consistency.png')));
    expect(grid.height).toBe(9 * (64 + 4 + 4) + 4);
    expect(grid.width).toBeGreaterThan(3 * (64 + 4 + 4));

    // Human output, other batching: sample j of class c uses seed + 3c + j either way, so the same samples and labels.
    const h = cli('evaluate', ...common, '--batch', '1', '--out', 'b');
    expect(h.status, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/generated samples\s+[\d.]+% top-1 \(27 images: 3 per class, 2 steps, seed 5\)/);
    expect(h.stdout).toMatch(/held-out real\s+[\d.]+% top-1/);
    expect(h.stdout).toMatch(/majority class\s+[\d.]+% \(/);
    expect(h.stderr).toMatch(/generating class 9\/9, Flags \(24\/27 images done\)/);
    const again = JSON.parse(readFileSync(join(work, 'b/class-consistency.json'), 'utf8')) as ClassConsistencyReport;
    expect(again.generated.confusion).toEqual(report.generated.confusion);
    expect(readFileSync(join(work, 'b/class-consistency.png'))).toEqual(readFileSync(join(work, 'a/class-consistency.png')));
    // Another seed draws other samples.
    const c = cli('evaluate', ...common.slice(0, -1), '6', '--out', 'c');
    expect(c.status, c.stderr).toBe(0);
    expect(readFileSync(join(work, 'c/class-consistency.png'))).not.toEqual(readFileSync(join(work, 'a/class-consistency.png')));

    const cases: [string[], RegExp][] = [
      [['evaluate'], /ArgumentError: --model: is required/],
      [['evaluate', '--model', 'named', '--classifier', 'svm'], /--classifier: must be knn or centroid, got "svm"/],
      [['evaluate', '--model', 'named', '--samples-per-class', '0'], /--samples-per-class: must be an integer >= 1/],
      [['evaluate', '--model', 'named', '--sets', 'msn'], /--sets: unknown set "msn"/],
      [['evaluate', '--model', 'named', '--choice-temperature', 'warm'], /--choice-temperature: must be a number, got "warm"/],
      [['evaluate', '--model', 'named', '--sets', 'twitter', '--schedule', 'zigzag'], /--schedule: /],
      [['evaluate', '--model', 'unnamed', '--sets', 'twitter'], /has 10 classes \(besides a null class\) and no classNames, but the dataset has 9/],
    ];
    for (const [args, message] of cases) {
      const res = cli('-q', ...args);
      expect(res.status, args.join(' ')).toBe(2);
      expect(res.stderr.split('\n').filter((l) => l && !l.startsWith('Warning:')), args.join(' ')).toHaveLength(1);
      expect(res.stderr, args.join(' ')).toMatch(message);
    }
    const help = cli('evaluate', '--help');
    expect(help.stdout).toMatch(/Examples:/);
    expect(help.stdout).toMatch(/--samples-per-class/);
  });
});
