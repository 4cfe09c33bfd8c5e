import { checkFunction, checkInteger, describeValue } from '../../arguments.js';
import { ArgumentError } from '../../errors.js';
import { Canvas, enlarge, textWidth } from '../../io/plot.js';
import { rgbaToRGBFloat, type RGBAImage } from '../../io/png.js';
import type { MaskGITConfig } from '../config.js';
import type { MaskGITModel } from '../load.js';
import { checkModel, generate, type SamplingOptions } from '../pipeline.js';
import { accuracyReport, PixelClassifier, type AccuracyReport, type ClassifierOptions, type LabelledImageSet } from './classifier.js';

/**
 * The class-consistency score, in the spirit of the MaskGIT paper's classification accuracy
 * score: a simple classifier fitted on the real training images labels images the model
 * generates for each class; its top-1 accuracy on them is compared with its accuracy on the
 * held-out real images (what a perfect generator would reach), the uniform chance 1/K and the
 * majority-class rate (what always answering one class reaches).
 */
export interface ClassConsistencyData {
  /** Pixels per side (the model's image size). */
  size: number;
  classNames: readonly string[];
  train: { images: Float32Array; labels: Int32Array; count: number };
  heldOut: { images: Float32Array; labels: Int32Array; count: number };
  /** What the images were composited over (default white, as the emoji are). */
  background?: readonly [number, number, number];
}

export interface ClassConsistencyProgress {
  stage: 'fit' | 'held-out' | 'generate' | 'done';
  /** Generated images finished (generate stage). */
  done: number;
  total: number;
  /** The class being generated (dataset index) and the decode step just finished. */
  label?: number;
  step?: number;
  steps?: number;
}

export interface ClassConsistencyOptions {
  /** Images generated per class. Default 16. */
  samplesPerClass?: number;
  /** Decode steps. Default 12. */
  steps?: number;
  /** Sample j of class c uses seed + c * samplesPerClass + j. Default 0. */
  seed?: number;
  /** Images generated in one call (at most). Default 16. */
  batch?: number;
  classifier?: ClassifierOptions;
  /** Further sampling options (temperatures, guidance, top-k ...). */
  sampling?: Omit<SamplingOptions, 'seed' | 'steps' | 'onProgress'>;
  onProgress?: (progress: ClassConsistencyProgress) => void | Promise<void>;
}

export interface ClassAccuracy {
  name: string;
  /** The model's class id the samples were generated with. */
  modelClass: number;
  generated: number | null;
  heldOut: number | null;
  heldOutImages: number;
}

export interface ClassConsistencyReport {
  classifier: { kind: string; k: number; metric: string; featureSize: number; description: string; trainImages: number };
  classNames: string[];
  numClasses: number;
  samplesPerClass: number;
  steps: number;
  seed: number;
  /** Top-1 accuracy of the classifier on the generated samples (labelled with the class they were generated for). */
  generatedAccuracy: number;
  /** Top-1 accuracy on the held-out real images. */
  heldOutAccuracy: number;
  /** generatedAccuracy / heldOutAccuracy. */
  ratio: number;
  /** 1 / K. */
  chance: number;
  /** The share of the most common class in the held-out set. */
  majorityRate: number;
  majorityClass: string;
  perClass: ClassAccuracy[];
  generated: Pick<AccuracyReport, 'count' | 'confusion'>;
  heldOut: Pick<AccuracyReport, 'count' | 'confusion'>;
  seconds: { fit: number; heldOut: number; generate: number };
}

export interface ClassConsistencyResult {
  report: ClassConsistencyReport;
  /** The generated images, class by class (samplesPerClass each, dataset class order). */
  samples: RGBAImage[];
  /** The class each sample was generated for and the class the classifier gave it (dataset indices). */
  labels: Int32Array;
  predictions: Int32Array;
}

/**
 * The model's class id for each dataset class: by name when the model's config has
 * classNames, else by position (the classes other than the null class, in order).
 */
export function modelClassesFor(config: Pick<MaskGITConfig, 'numClasses' | 'nullClassId' | 'classNames'>, classNames: readonly string[]): number[] {
  const usable = Array.from({ length: config.numClasses }, (_, i) => i).filter((i) => i !== config.nullClassId);
  if (config.classNames) {
    return classNames.map((name) => {
      const id = config.classNames!.indexOf(name);
      if (id < 0 || id === config.nullClassId) {
        throw new ArgumentError('model', `its classNames (${config.classNames!.join(', ')}) do not include the dataset's class "${name}"`);
      }
      return id;
    });
  }
  if (usable.length !== classNames.length) {
    throw new ArgumentError('model', `has ${usable.length} classes (besides a null class) and no classNames, but the dataset has ${classNames.length}`);
  }
  return usable;
}

const seconds = (t0: number) => Number(((performance.now() - t0) / 1000).toFixed(2));

export async function evaluateClassConsistency(model: MaskGITModel, data: ClassConsistencyData, options: ClassConsistencyOptions = {}): Promise<ClassConsistencyResult> {
  checkModel(model);
  const K = data.classNames.length;
  if (data.size !== model.config.imageSize) throw new ArgumentError('data', `images are ${data.size} px but the model makes ${model.config.imageSize} px images`);
  if (data.heldOut.count < 1) throw new ArgumentError('data', 'has no held-out images');
  const perClass = options.samplesPerClass ?? 16;
  checkInteger('samplesPerClass', perClass, 1, 1e6);
  const steps = options.steps ?? 12;
  checkInteger('steps', steps, 1, 1e4);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new ArgumentError('seed', `must be an integer, got ${describeValue(seed)}`);
  const batch = options.batch ?? 16;
  checkInteger('batch', batch, 1, 1e6);
  checkFunction('onProgress', options.onProgress);
  const modelClasses = modelClassesFor(model.config, data.classNames);
  const background = data.background ?? [1, 1, 1];
  const total = K * perClass;

  let t0 = performance.now();
  await options.onProgress?.({ stage: 'fit', done: 0, total });
  const train: LabelledImageSet = { ...data.train, size: data.size };
  const classifier = PixelClassifier.fit(train, K, { ...options.classifier, background });
  const fitSeconds = seconds(t0);

  t0 = performance.now();
  await options.onProgress?.({ stage: 'held-out', done: 0, total });
  const held = accuracyReport(data.heldOut.labels, classifier.predict(data.heldOut.images, data.heldOut.count), K);
  const heldOutSeconds = seconds(t0);

  t0 = performance.now();
  const samples: RGBAImage[] = [];
  const labels = new Int32Array(total);
  const pixelsPer = data.size * data.size * 3;
  const pixels = new Float32Array(total * pixelsPer);
  for (let label = 0; label < K; label++) {
    for (let j0 = 0; j0 < perClass; j0 += batch) {
      const n = Math.min(batch, perClass - j0);
      const done = samples.length;
      const { images } = await generate(model, {
        ...options.sampling,
        classes: modelClasses[label]!,
        batch: n,
        steps,
        seed: seed + label * perClass + j0,
        onProgress: options.onProgress ? (p) => options.onProgress!({ stage: 'generate', done, total, label, step: p.step, steps: p.steps }) : undefined,
      });
      for (const image of images) {
        pixels.set(rgbaToRGBFloat(image, background), samples.length * pixelsPer);
        labels[samples.length] = label;
        samples.push(image);
      }
    }
  }
  const generateSeconds = seconds(t0);
  const predictions = classifier.predict(pixels, total);
  const gen = accuracyReport(labels, predictions, K);
  await options.onProgress?.({ stage: 'done', done: total, total });

  const majority = held.classCounts.indexOf(Math.max(...held.classCounts));
  const report: ClassConsistencyReport = {
    classifier: { kind: classifier.kind, k: classifier.k, metric: classifier.metric, featureSize: data.size / classifier.pool, description: classifier.describe(), trainImages: data.train.count },
    classNames: [...data.classNames],
    numClasses: K,
    samplesPerClass: perClass,
    steps,
    seed,
    generatedAccuracy: gen.accuracy,
    heldOutAccuracy: held.accuracy,
    ratio: held.accuracy > 0 ? gen.accuracy / held.accuracy : 0,
    chance: 1 / K,
    majorityRate: held.majorityRate,
    majorityClass: data.classNames[majority]!,
    perClass: data.classNames.map((name, c) => ({
      name,
      modelClass: modelClasses[c]!,
      generated: gen.perClass[c]!,
      heldOut: held.perClass[c]!,
      heldOutImages: held.classCounts[c]!,
    })),
    generated: { count: gen.count, confusion: gen.confusion },
    heldOut: { count: held.count, confusion: held.confusion },
    seconds: { fit: fitSeconds, heldOut: heldOutSeconds, generate: generateSeconds },
  };
  return { report, samples, labels, predictions };
}

const RIGHT = [40, 160, 60] as const;
const WRONG = [210, 40, 40] as const;

/**
 * The samples as a grid: one row per class, its name and generated accuracy at the left, up to
 * `columns` samples, each framed green when the classifier gave it its class and red when not.
 */
export function classConsistencyGrid(result: ClassConsistencyResult, columns = 16, scale = 2): RGBAImage {
  const { report, samples, predictions, labels } = result;
  const first = samples[0];
  if (!first) throw new ArgumentError('result', 'has no samples to show');
  const tile = first.width * scale;
  const frame = 2;
  const gap = 4;
  const cols = Math.min(columns, report.samplesPerClass);
  const names = report.perClass.map((c) => `${c.name.replace(/&/g, '+')} ${c.generated === null ? '' : `${Math.round(c.generated * 100)}%`}`);
  const labelWidth = Math.max(...names.map((n) => textWidth(n))) + 12;
  const cell = tile + 2 * frame + gap;
  const canvas = new Canvas(labelWidth + cols * cell, report.numClasses * cell + gap);
  for (let c = 0; c < report.numClasses; c++) {
    const y0 = gap + c * cell;
    canvas.text(4, y0 + tile / 2 - 4, names[c]!, [0, 0, 0]);
    for (let j = 0; j < cols; j++) {
      const i = c * report.samplesPerClass + j;
      const x0 = labelWidth + j * cell;
      canvas.rect(x0, y0, tile + 2 * frame, tile + 2 * frame, predictions[i] === labels[i] ? RIGHT : WRONG);
      const big = enlarge(samples[i]!, scale);
      for (let y = 0; y < tile; y++) canvas.data.set(big.data.subarray(y * tile * 4, (y + 1) * tile * 4), ((y0 + frame + y) * canvas.width + x0 + frame) * 4);
    }
  }
  return canvas.image();
}
