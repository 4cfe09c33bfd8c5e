// `maskgit generate | inpaint | outpaint | edit` as users run them (the built CLI in a child
// process) on a tiny model folder with random weights: the PNGs, token and frame files they
// write, the JSON summary, and one-line errors with the usage exit code.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePNG, encodePNG, generate, loadMaskGIT, writeModelFolder, type RGBAImage } from '../src/node.js';
import { getEngine } from './helpers/engine.js';
import { tinyConfig, tinyTensors } from './helpers/tiny-maskgit.js';

const root = resolve(__dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'maskgit-cli-pipeline-'));
const model = join(work, 'tiny');
const config = { ...tinyConfig({ imageSize: 32, nullClass: 9 }), classNames: Array.from({ length: 10 }, (_, i) => `class ${i}`) };

function picture(width: number, height: number, f: (x: number, y: number) => [number, number, number]): RGBAImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([...f(x, y), 255], (y * width + x) * 4);
  return { width, height, data };
}

const input = picture(32, 32, (x, y) => [x * 8, y * 8, ((x + y) * 4) % 256]);
/** White (regenerate) in a 10x10 block, rows and columns 10..19. */
const mask = picture(32, 32, (x, y) => (x >= 10 && x < 20 && y >= 10 && y < 20 ? [255, 255, 255] : [0, 0, 0]));

beforeAll(async () => {
  execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
  await writeModelFolder(model, config, tinyTensors(config, 3));
  writeFileSync(join(work, 'in.png'), encodePNG(input));
  writeFileSync(join(work, 'mask.png'), encodePNG(mask));
  writeFileSync(join(work, 'mask16.png'), encodePNG(picture(16, 16, () => [255, 255, 255])));
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { cwd: work, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const png = (file: string) => decodePNG(new Uint8Array(readFileSync(join(work, file))));
const pixel = (image: RGBAImage, x: number, y: number) => [...image.data.subarray((y * image.width + x) * 4, (y * image.width + x + 1) * 4)];

describe('maskgit generate', () => {
  it('writes a grid PNG, the tokens as JSON, a strip of frames, and the same tokens as the library', async () => {
    const r = cli('generate', '--model', 'tiny', '--class', '1,2,7', '--seed', '5', '--steps', '6', '--out', 'out/grid.png', '--tokens-out', 'tokens.json', '--frames-out', 'frames.png');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote out\/grid.png, tokens.json, frames.png \(3 images of 32x32\) in [\d.]+ s/);
    const grid = png('out/grid.png');
    expect([grid.width, grid.height]).toEqual([2 * 32 + 2, 2 * 32 + 2]); // ceil(sqrt(3)) = 2 columns, 2 px gaps
    const tokens = JSON.parse(readFileSync(join(work, 'tokens.json'), 'utf8')) as number[][];
    expect(tokens).toHaveLength(3);
    for (const t of tokens) expect(t.length === 64 && t.every((v) => Number.isInteger(v) && v >= 0 && v < 32)).toBe(true);
    const frames = png('frames.png');
    expect([frames.width, frames.height]).toEqual([6 * 32 + 5 * 2, 3 * 32 + 2 * 2]); // a row of 6 steps per image
    // The library, in this process, from the same folder: the same tokens (image i uses seed + i).
    const engine = await getEngine();
    const loaded = await loadMaskGIT(engine, model);
    const mine = await generate(loaded, { classes: [1, 2, 7], seed: 5, steps: 6 });
    expect(mine.tokens.map((t) => [...t])).toEqual(tokens);
    expect(pixel(grid, 34, 0)).toEqual(pixel(mine.images[1]!, 0, 0)); // second image, top left (after 32 px and a 2 px gap)
    expect(pixel(grid, 5, 34 + 7)).toEqual(pixel(mine.images[2]!, 5, 7)); // third image: second row, first column
    loaded.dispose();
  });

  it('one label for a batch; a single image writes one flat token array; --json prints the summary only', () => {
    const r = cli('--json', 'generate', '--model', 'tiny', '--class', '4', '--batch', '2', '--guidance', '2', '--out', 'two.png');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ out: 'two.png', images: 2, width: 32, height: 32, classes: [4, 4], seeds: [0, 1] });
    expect([png('two.png').width, png('two.png').height]).toEqual([66, 32]);
    const q = cli('-q', 'generate', '--model', 'tiny', '--class', '4', '--out', 'one.png', '--tokens-out', 'one.json', '--sample-temperature', '0', '--choice-temperature', '0', '--schedule', 'exp');
    expect(q.status, q.stderr).toBe(0);
    expect(q.stdout).toBe('');
    const flat = JSON.parse(readFileSync(join(work, 'one.json'), 'utf8')) as number[];
    expect(flat).toHaveLength(64);
    expect([png('one.png').width, png('one.png').height]).toEqual([32, 32]);
  });

  it('--help explains and gives examples', () => {
    for (const command of ['generate', 'inpaint', 'outpaint', 'edit']) {
      const r = cli(command, '--help');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/Examples:\n {2}\$ maskgit /);
      expect(r.stdout).toMatch(/--seed <n>/);
      expect(r.stdout).toMatch(/--sample-temperature <t>/);
    }
  });
});

describe('maskgit inpaint | outpaint | edit', () => {
  it('inpaint: the image size, the tokens, and the input kept far from the mask', () => {
    const r = cli('inpaint', '--model', 'tiny', '--image', 'in.png', '--mask', 'mask.png', '--class', '3', '--out', 'inpainted.png', '--tokens-out', 'inpainted.json');
    expect(r.status, r.stderr).toBe(0);
    const out = png('inpainted.png');
    expect([out.width, out.height]).toEqual([32, 32]);
    expect(JSON.parse(readFileSync(join(work, 'inpainted.json'), 'utf8'))).toHaveLength(64);
    // The mask covers tokens 2..4 x 2..4 (4x4-pixel tokens, pixels 8..19); the blur (sigma 1) reaches 3 px further.
    for (const [x, y] of [[0, 0], [31, 31], [4, 20], [24, 10]] as const) expect(pixel(out, x, y), `(${x}, ${y})`).toEqual(pixel(input, x, y));
  });

  it('outpaint: larger by the amount on the side; the input kept away from the seam', () => {
    const r = cli('outpaint', '--model', 'tiny', '--image', 'in.png', '--side', 'left', '--amount', '20', '--class', '3', '--out', 'outpainted.png');
    expect(r.status, r.stderr).toBe(0);
    const out = png('outpainted.png');
    expect([out.width, out.height]).toEqual([52, 32]);
    for (let x = 4; x < 32; x += 9) for (let y = 0; y < 32; y += 7) expect(pixel(out, 20 + x, y), `(${x}, ${y})`).toEqual(pixel(input, x, y));
    expect(cli('outpaint', '--help').stdout).not.toMatch(/--tokens-out/);
  });

  it('edit: the box edit, batched as a grid', () => {
    const r = cli('edit', '--model', 'tiny', '--image', 'in.png', '--box', '4,4,10,12', '--class', '2', '--batch', '2', '--out', 'edited.png', '--tokens-out', 'edited.json');
    expect(r.status, r.stderr).toBe(0);
    const out = png('edited.png');
    expect([out.width, out.height]).toEqual([66, 32]);
    expect(JSON.parse(readFileSync(join(work, 'edited.json'), 'utf8'))).toHaveLength(2);
    // Far from the dilated box (tokens 0..4 x 0..5 -> pixels 0..19 x 0..23): the input.
    expect(pixel(out, 31, 31)).toEqual(pixel(input, 31, 31));
    expect(pixel(out, 34 + 31, 31)).toEqual(pixel(input, 31, 31));
  });

  it('bad arguments fail in one line naming the flag, with the usage exit code, before writing anything', () => {
    const cases: [string[], RegExp][] = [
      [['generate', '--model', 'tiny', '--class', '10', '--out', 'x.png'], /ArgumentError: --class: unknown class "10": this model has 10 classes, 0 to 9/],
      [['generate', '--model', 'tiny', '--class', '1', '--steps', '0', '--out', 'x.png'], /ArgumentError: --steps: must be an integer in \[1, 1024\], got "0"/],
      [['generate', '--model', 'tiny', '--class', '1', '--sample-temperature', 'NaN', '--out', 'x.png'], /--sample-temperature: must be a number/],
      [['generate', '--model', 'tiny', '--class', '1', '--choice-temperature', '-2', '--out', 'x.png'], /--choice-temperature: must be a finite number >= 0/],
      [['generate', '--model', 'tiny', '--class', '1,2', '--batch', '3', '--out', 'x.png'], /--batch: is 3 but 2 class labels were given/],
      [['generate', '--model', 'tiny', '--class', '1', '--schedule', 'zigzag', '--out', 'x.png'], /--schedule: unknown mask schedule "zigzag"/],
      [['generate', '--model', 'missing-model', '--class', '1', '--out', 'x.png'], /--model: missing-model does not exist/],
      [['generate', '--model', 'tiny', '--out', 'x.png'], /--class: is required/],
      [['inpaint', '--model', 'tiny', '--image', 'in.png', '--mask', 'mask16.png', '--class', '1', '--out', 'x.png'], /--mask: is 16x16 pixels but the image is 32x32/],
      [['inpaint', '--model', 'tiny', '--image', 'missing.png', '--mask', 'mask.png', '--class', '1', '--out', 'x.png'], /--image: missing.png does not exist/],
      [['inpaint', '--model', 'tiny', '--image', 'mask16.png', '--mask', 'mask16.png', '--class', '1', '--out', 'x.png'], /--image: is 16x16 pixels; this model takes 32x32 images/],
      [['outpaint', '--model', 'tiny', '--image', 'in.png', '--side', 'up', '--amount', '8', '--class', '1', '--out', 'x.png'], /--side: must be left, right, top or bottom/],
      [['outpaint', '--model', 'tiny', '--image', 'in.png', '--side', 'top', '--amount', '0', '--class', '1', '--out', 'x.png'], /--amount: must be an integer in \[1, 1024\]/],
      [['edit', '--model', 'tiny', '--image', 'in.png', '--box', '30,0,8,8', '--class', '1', '--out', 'x.png'], /--box: rows 30..37, columns 0..7 reach outside the 32x32 image/],
      [['edit', '--model', 'tiny', '--image', 'in.png', '--box', '1,2,3', '--class', '1', '--out', 'x.png'], /--box: must be four integers TOP,LEFT,HEIGHT,WIDTH/],
    ];
    for (const [args, message] of cases) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    expect(existsSync(join(work, 'x.png'))).toBe(false);
    // No temporaries of atomic writes are left beside the outputs.
    expect(readdirSync(work).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});
