import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ArgumentError } from '../errors.js';
import { decodePNG, rgbaToRGBFloat } from './png.js';

/**
 * Real images for training and evaluation: the emoji sets of the emoji-datasource-* npm
 * packages (MIT; 64x64 PNGs, one category per emoji in emoji.json). Classes are the emoji
 * categories (the picker's tabs), skin-tone variants are left out (they would make
 * "People & Body" most of the data), and the split is by emoji, so the same emoji drawn by
 * different vendors is never both in training and in the held-out set.
 */
export type EmojiSet = 'twitter' | 'google' | 'apple';
export const EMOJI_SETS: readonly EmojiSet[] = ['twitter', 'google', 'apple'];

/** Parses a comma-separated list of set names (a CLI flag `name`); throws ArgumentError naming an unknown one. */
export function parseEmojiSets(text: string, name = 'sets'): EmojiSet[] {
  const sets = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of sets) if (!(EMOJI_SETS as readonly string[]).includes(s)) throw new ArgumentError(name, `unknown set "${s}"; choose from ${EMOJI_SETS.join(', ')}`);
  return sets as EmojiSet[];
}

export interface LabelledImages {
  /** [count, size, size, 3] RGB in [0, 1], composited over white. */
  images: Float32Array;
  labels: Int32Array;
  /** "<set>/<unified code>" per image. */
  ids: string[];
  count: number;
}

export interface ImageDataset {
  size: number;
  classNames: string[];
  train: LabelledImages;
  heldOut: LabelledImages;
}

export interface EmojiDatasetOptions {
  sets?: readonly EmojiSet[];
  /** Output side in pixels: 64, or 64 / 2^k by box filtering. Default 32. */
  size?: number;
  /** Fraction of emoji held out (deterministic by emoji code). Default 0.1. */
  heldOutFraction?: number;
  /** Where to resolve the packages from (default: this package's dependencies). */
  resolveFrom?: string;
}

interface EmojiEntry {
  unified: string;
  image: string;
  category: string;
  sort_order: number;
}

const EXCLUDED_CATEGORIES = new Set(['Component']);

/** FNV-1a 32-bit: a stable hash of the emoji code for the split. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Averages 2x2 blocks (HWC) `times` times. */
export function boxDownsample(rgb: Float32Array, size: number, times: number): Float32Array {
  let src = rgb;
  let s = size;
  for (let t = 0; t < times; t++) {
    const h = s / 2;
    const out = new Float32Array(h * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < h; x++) {
        for (let c = 0; c < 3; c++) {
          const at = (yy: number, xx: number) => src[(yy * s + xx) * 3 + c]!;
          out[(y * h + x) * 3 + c] = 0.25 * (at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1));
        }
      }
    }
    src = out;
    s = h;
  }
  return src;
}

export async function loadEmojiDataset(options: EmojiDatasetOptions = {}): Promise<ImageDataset> {
  const sets = options.sets ?? EMOJI_SETS;
  const size = options.size ?? 32;
  const fraction = options.heldOutFraction ?? 0.1;
  const times = Math.log2(64 / size);
  if (!Number.isInteger(times) || times < 0) throw new ArgumentError('size', `must be 64 / 2^k (64, 32, 16, ...), got ${size}`);
  if (!(fraction >= 0 && fraction < 1)) throw new ArgumentError('heldOutFraction', `must be in [0, 1), got ${fraction}`);
  const require = createRequire(options.resolveFrom ?? import.meta.url);

  const perSet: { set: EmojiSet; dir: string; entries: EmojiEntry[] }[] = [];
  for (const set of sets) {
    let pkgJson: string;
    try {
      pkgJson = require.resolve(`emoji-datasource-${set}/package.json`);
    } catch {
      throw new ArgumentError('sets', `the npm package emoji-datasource-${set} is not installed (npm install emoji-datasource-${set})`);
    }
    const root = dirname(pkgJson);
    const entries = JSON.parse(await readFile(join(root, 'emoji.json'), 'utf8')) as EmojiEntry[];
    perSet.push({ set, dir: join(root, 'img', set, '64'), entries });
  }
  // Classes in the emoji picker's order (by the first emoji of each category).
  const firstSeen = new Map<string, number>();
  for (const e of perSet[0]?.entries ?? []) {
    if (EXCLUDED_CATEGORIES.has(e.category)) continue;
    firstSeen.set(e.category, Math.min(firstSeen.get(e.category) ?? Infinity, e.sort_order));
  }
  const classNames = [...firstSeen.entries()].sort((a, b) => a[1] - b[1]).map(([name]) => name);
  const classOf = new Map(classNames.map((name, i) => [name, i]));

  const train: { rgb: Float32Array; label: number; id: string }[] = [];
  const heldOut: typeof train = [];
  for (const { set, dir, entries } of perSet) {
    for (const e of entries) {
      const label = classOf.get(e.category);
      if (label === undefined) continue;
      let bytes: Buffer;
      try {
        bytes = await readFile(join(dir, e.image));
      } catch {
        continue; // this vendor has no image for this emoji
      }
      const image = decodePNG(bytes, `${set}/${e.image}`);
      if (image.width !== 64 || image.height !== 64) continue;
      const rgb = boxDownsample(rgbaToRGBFloat(image), 64, times);
      const held = (fnv1a(e.unified) % 10000) / 10000 < fraction;
      (held ? heldOut : train).push({ rgb, label, id: `${set}/${e.unified}` });
    }
  }
  const pack = (items: typeof train): LabelledImages => {
    const per = size * size * 3;
    const images = new Float32Array(items.length * per);
    items.forEach((item, i) => images.set(item.rgb, i * per));
    return { images, labels: Int32Array.from(items, (i) => i.label), ids: items.map((i) => i.id), count: items.length };
  };
  return { size, classNames, train: pack(train), heldOut: pack(heldOut) };
}
