// The page's ImageNet class names (web/imagenet-classes.ts) are the npm package's, in index
// order, as scripts/imagenet-classes.mjs writes them.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { moduleText, OUT, packageClassNames } from '../scripts/imagenet-classes.mjs';
import { IMAGENET_CLASS_NAMES } from '../web/imagenet-classes.js';

describe('ImageNet class names', () => {
  it('are the 1000 ILSVRC-2012 names of @tensorflow-models/mobilenet, in index order', () => {
    const names = packageClassNames() as string[];
    expect(IMAGENET_CLASS_NAMES).toEqual(names);
    expect(readFileSync(OUT, 'utf8')).toBe(moduleText());
    // Index order as the official MaskGIT labels use it (its demo's examples: 207 and 360).
    expect([IMAGENET_CLASS_NAMES[0], IMAGENET_CLASS_NAMES[207], IMAGENET_CLASS_NAMES[360], IMAGENET_CLASS_NAMES[999]]).toEqual([
      'tench, Tinca tinca',
      'golden retriever',
      'otter',
      'toilet tissue, toilet paper, bathroom tissue',
    ]);
    // One name twice, as in ILSVRC-2012 itself: crane the bird (134) and the machine (517); the picker shows ids.
    expect(new Set(IMAGENET_CLASS_NAMES).size).toBe(999);
    expect([IMAGENET_CLASS_NAMES[134], IMAGENET_CLASS_NAMES[517]]).toEqual(['crane', 'crane']);
  });
});
