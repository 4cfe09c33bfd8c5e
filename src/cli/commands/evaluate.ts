import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { basename, join, resolve } from 'node:path';
import { ArgumentError } from '../../errors.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { EMOJI_SETS, loadEmojiDataset, parseEmojiSets } from '../../io/emoji.js';
import { encodePNG } from '../../io/png.js';
import { loadMaskGIT } from '../../maskgit/load.js';
import { DEFAULT_CLASSIFIER, type ClassifierKind } from '../../maskgit/train/classifier.js';
import { classConsistencyGrid, evaluateClassConsistency, type ClassConsistencyProgress, type ClassConsistencyReport } from '../../maskgit/train/class-consistency.js';
import { createEngine } from '../../tensor/engine.js';
import type { Output } from '../output.js';
import { asFlags, decodeFlags, decodeOptions, type SamplingFlags } from './sampling.js';

interface EvaluateFlags extends Pick<SamplingFlags, 'schedule' | 'sampleTemperature' | 'choiceTemperature' | 'topK' | 'topP' | 'guidance'> {
  model?: string;
  samplesPerClass: string;
  steps: string;
  seed: string;
  classifier: string;
  k: string;
  batch: string;
  out?: string;
  sets: string;
}

export const EVALUATE_FILES = { report: 'class-consistency.json', grid: 'class-consistency.png' } as const;

function integer(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new ArgumentError(name, `must be an integer >= ${min}, got "${value}"`);
  return n;
}

const percent = (x: number | null) => (x === null ? '   -  ' : `${(100 * x).toFixed(1).padStart(5)}%`);

/** Progress on stderr: a bar over the generated images on a terminal, a line per class otherwise. */
function reporter(out: Output, classNames: readonly string[]): { onProgress: (p: ClassConsistencyProgress) => void; stop(): void } {
  if (out.quiet || out.json) return { onProgress: () => undefined, stop: () => undefined };
  let bar: SingleBar | null = null;
  let lastLabel = -1;
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  const onProgress = (p: ClassConsistencyProgress) => {
    if (p.stage === 'fit') out.info('fitting the classifier on the real training images');
    else if (p.stage === 'held-out') out.info('classifying the held-out real images');
    else if (p.stage === 'generate') {
      if (process.stderr.isTTY === true) {
        if (!bar) {
          bar = new SingleBar({ format: 'generate [{bar}] {value}/{total} images | class {label} | step {step} | ETA {eta_formatted}', stream: process.stderr, hideCursor: true });
          bar.start(p.total, 0, { label: '-', step: '-' });
        }
        bar.update(p.done, { label: classNames[p.label!], step: `${p.step}/${p.steps}` });
      } else if (p.label !== lastLabel) {
        lastLabel = p.label!;
        out.info(`generating class ${p.label! + 1}/${classNames.length}, ${classNames[p.label!]} (${p.done}/${p.total} images done)`);
      }
    } else {
      bar?.update(p.done);
      stop();
    }
  };
  return { onProgress, stop };
}

function summary(model: string, r: ClassConsistencyReport, files: string[]): string {
  const width = Math.max(...r.classNames.map((n) => n.length));
  return [
    `class consistency of ${model}: a ${r.classifier.description} fitted on ${r.classifier.trainImages} real images labels the samples`,
    `  generated samples  ${percent(r.generatedAccuracy)} top-1 (${r.generated.count} images: ${r.samplesPerClass} per class, ${r.steps} steps, seed ${r.seed})`,
    `  held-out real      ${percent(r.heldOutAccuracy)} top-1 (${r.heldOut.count} images)`,
    `  generated / held-out ${r.ratio.toFixed(3)}`,
    `  chance 1/${r.numClasses}        ${percent(r.chance)}`,
    `  majority class     ${percent(r.majorityRate)} (${r.majorityClass})`,
    `  per class: generated, held-out`,
    ...r.perClass.map((c) => `    ${c.name.padEnd(width)}  ${percent(c.generated)}  ${percent(c.heldOut)}`),
    ...files.map((f) => `  ${f}`),
  ].join('\n');
}

/**
 * `maskgit evaluate --model DIR`: the class-consistency score of a class-conditional model on
 * the emoji classes it was trained on (k-NN or nearest centroid on pixels, fitted on the real
 * training images, labels N generated samples per class).
 */
export function registerEvaluate(program: Command, output: () => Output): void {
  const command = program
    .command('evaluate')
    .description('class consistency of a model: a pixel classifier trained on the real emoji images labels its samples')
    .option('--model <dir>', 'model folder (transformer and tokenizer; its classes are the emoji categories)')
    .option('--samples-per-class <n>', 'images generated per class', '16')
    .option('--steps <n>', 'decode steps', '12')
    .option('--seed <n>', 'sample j of class c uses seed + c * samples-per-class + j', '0')
    .option('--classifier <kind>', 'knn or centroid (nearest class mean)', DEFAULT_CLASSIFIER.kind)
    .option('--k <n>', 'neighbours for knn', String(DEFAULT_CLASSIFIER.k))
    .option('--batch <n>', 'images generated at once', '16')
    .option('--out <dir>', `folder for ${EVALUATE_FILES.report} and ${EVALUATE_FILES.grid} (default out/evaluate-<model folder name>)`)
    .option('--sets <names>', `emoji sets of the real images, comma-separated: ${EMOJI_SETS.join(', ')}`, EMOJI_SETS.join(','));
  decodeFlags(command)
    .addHelpText(
      'after',
      [
        '',
        `Writes ${EVALUATE_FILES.report} (accuracies overall and per class, confusion matrices, chance and`,
        `majority rates) and ${EVALUATE_FILES.grid} (one row per class; green frame: the classifier agreed).`,
        'The classifier is fitted on the training split of the emoji images and also scored on the',
        'held-out split: a generator whose samples are as recognisable as real images reaches a ratio of 1.',
        '',
        'Examples:',
        '  $ maskgit evaluate --model models/emoji-32',
        '  $ maskgit evaluate --model models/emoji-32 --samples-per-class 32 --seed 1 --out out/cas',
        '  $ maskgit evaluate --model models/emoji-32 --classifier centroid',
        '  $ maskgit evaluate --model models/emoji-32 --guidance 2 --choice-temperature 2',
        '  $ maskgit --json evaluate --model models/emoji-32 --samples-per-class 4 --steps 8',
      ].join('\n'),
    )
    .action(async (flags: EvaluateFlags) => {
      const out = output();
      if (!flags.model) throw new ArgumentError('--model', 'is required: a model folder (e.g. --model models/emoji-32)');
      const samplesPerClass = integer('--samples-per-class', flags.samplesPerClass, 1);
      const steps = integer('--steps', flags.steps, 1);
      const seed = integer('--seed', flags.seed, 0);
      const k = integer('--k', flags.k, 1);
      const batch = integer('--batch', flags.batch, 1);
      if (flags.classifier !== 'knn' && flags.classifier !== 'centroid') throw new ArgumentError('--classifier', `must be knn or centroid, got "${flags.classifier}"`);
      const kind: ClassifierKind = flags.classifier;
      const sets = parseEmojiSets(flags.sets, '--sets');
      const sampling = decodeOptions(flags);
      const folder = flags.out ?? join('out', `evaluate-${basename(resolve(flags.model))}`);

      const engine = await createEngine();
      const model = await loadMaskGIT(engine, flags.model);
      out.info(`loading the ${model.config.imageSize} px emoji images (${sets.join(', ')})`);
      const data = await loadEmojiDataset({ sets, size: model.config.imageSize });
      const report = reporter(out, data.classNames);
      let result: Awaited<ReturnType<typeof evaluateClassConsistency>>;
      try {
        result = await asFlags(() => evaluateClassConsistency(model, data, { sampling, samplesPerClass, steps, seed, batch, classifier: { kind, k }, onProgress: report.onProgress }));
      } finally {
        report.stop();
      }
      const files = [join(folder, EVALUATE_FILES.report), join(folder, EVALUATE_FILES.grid)];
      const json = { model: flags.model, sets, sampling, ...result.report, files };
      await writeFileAtomic(files[0]!, JSON.stringify(json, null, 2) + '\n');
      await writeFileAtomic(files[1]!, encodePNG(classConsistencyGrid(result)));
      model.dispose();
      out.result(json, () => summary(flags.model!, result.report, files));
    });
}
