// Held-out accuracy of the class-consistency classifiers on the real emoji images, with the
// uniform chance and the majority-class rate (what `maskgit evaluate` compares samples against):
//   node scripts/run-ts.mjs scripts/eval-classifier.ts [--size 32] [--sets twitter,google,apple]
import { loadEmojiDataset, parseEmojiSets } from '../src/io/emoji.js';
import { accuracyReport, PixelClassifier, type ClassifierOptions } from '../src/maskgit/train/classifier.js';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const size = Number(flag('--size') ?? 32);
const sets = parseEmojiSets(flag('--sets') ?? 'twitter,google,apple');
const data = await loadEmojiDataset({ sets, size });
const K = data.classNames.length;
const held = data.heldOut;
const rows: ClassifierOptions[] = [{ kind: 'knn' }, { kind: 'knn', k: 1 }, { kind: 'knn', metric: 'cosine' }, { kind: 'knn', featureSize: 16 }, { kind: 'centroid' }, { kind: 'centroid', featureSize: 16 }];
for (const options of rows) {
  const t0 = performance.now();
  const classifier = PixelClassifier.fit({ ...data.train, size }, K, options);
  const r = accuracyReport(held.labels, classifier.predict(held.images, held.count), K);
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ classifier: classifier.describe(), heldOutAccuracy: r.accuracy, chance: 1 / K, majorityRate: r.majorityRate, train: data.train.count, heldOut: held.count, seconds: Number(seconds.toFixed(1)) }));
}
