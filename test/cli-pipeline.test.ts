// `maskgit generate | inpaint | outpaint | edit | bench | info` and `npm start`'s script as
// users run them (the built CLI in a child process) on a tiny model folder with random weights:
// the PNGs, token and frame files they write, the JSON summary, --help with examples for every
// subcommand, and one-line errors with the usage exit code.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePNG, encodePNG, generate, loadMaskGIT, writeModelFolder, type RGBAImage } from '../src/node.js';
import { getEngine } from './helpers/engine.js';
import { tinyConfig, tinyTensors } from './helpers/tiny-maskgit.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

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
  // A folder with a tokenizer only (as train-tokenizer leaves it): refused before any weight is read.
  mkdirSync(join(work, 'tokenizer-only'));
  const only = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(work, 'tokenizer-only', 'config.json'), JSON.stringify({ ...only, contents: ['tokenizer'] }));
}, HANG_GUARD_MS);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(file: string, args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [file, ...args], { cwd: work, encoding: 'utf8', timeout: HANG_GUARD_MS, env: { ...process.env, ...env } });
  // Dawn's limit warnings are printed by the native module on stderr: not ours.
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.replace(/^Warning: maxDynamic.*\n/gm, '') };
}
const cli = (...args: string[]) => run(join(root, 'dist/cli.js'), args);

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

  it('--help explains and gives examples, for every subcommand', () => {
    for (const command of ['generate', 'inpaint', 'outpaint', 'edit']) {
      const r = cli(command, '--help');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/Examples:\n {2}\$ maskgit /);
      expect(r.stdout).toMatch(/--seed <n>/);
      expect(r.stdout).toMatch(/--sample-temperature <t>/);
    }
    const top = cli('--help');
    expect(top.status).toBe(0);
    const listed = [...top.stdout.matchAll(/^ {2}([a-z][a-z-]*) /gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    for (const command of ['generate', 'inpaint', 'outpaint', 'edit', 'convert', 'info', 'bench', 'train-tokenizer']) expect(listed).toContain(command);
    for (const command of listed) {
      const r = cli(command, '--help');
      expect(r.status, command).toBe(0);
      expect(r.stdout, command).toMatch(/Examples:\n {2}\$ maskgit /);
    }
  });

  it('--class all: one image per class but the null class, in a grid; --per-class: a row per label', () => {
    const r = cli('--json', 'generate', '--model', 'tiny', '--class', 'all', '--steps', '2', '--out', 'all.png');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ images: 9, classes: [0, 1, 2, 3, 4, 5, 6, 7, 8], seeds: [0, 1, 2, 3, 4, 5, 6, 7, 8] });
    expect([png('all.png').width, png('all.png').height]).toEqual([3 * 32 + 2 * 2, 3 * 32 + 2 * 2]); // ceil(sqrt(9)) = 3 columns
    const rows = cli('--json', 'generate', '--model', 'tiny', '--class', '4,1', '--per-class', '3', '--steps', '2', '--out', 'rows.png');
    expect(rows.status, rows.stderr).toBe(0);
    expect(JSON.parse(rows.stdout)).toMatchObject({ images: 6, classes: [4, 4, 4, 1, 1, 1], seeds: [0, 1, 2, 3, 4, 5] });
    expect([png('rows.png').width, png('rows.png').height]).toEqual([3 * 32 + 2 * 2, 2 * 32 + 2]); // 3 columns, a row per label
    expect(cli('generate', '--model', 'tiny', '--class', '1', '--per-class', '0', '--out', 'x.png').stderr).toMatch(/--per-class: /);
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
      [['generate', '--model', 'tokenizer-only', '--class', '1', '--out', 'x.png'], /--model: tokenizer-only holds a tokenizer but no transformer; train one over it with `maskgit train --tokenizer tokenizer-only/],
      [['edit', '--model', 'tiny', '--image', 'in.png', '--box', '1,2,3,4', '--class', 'all', '--out', 'x.png'], /--class: unknown class "all": this model has 10 classes/],
      [['generate', '--model', 'tiny', '--class', '1', '--out', 'x.png', '--colour', 'red'], /^maskgit: unknown option '--colour' \(run with --help for usage\)$/m],
      [['generate', '--model', 'tiny', '--class'], /^maskgit: option '--class <n\[,n...\]\|all>' argument missing/m],
      [['paint'], /^maskgit: unknown command 'paint'/m],
      [['bench', '--preset', 'huge'], /--preset: must be one of small, mid, official, got "huge"/],
      [['bench', '--preset', 'small', '--model', 'tiny'], /give a model folder \(--model DIR\) or a preset/],
      [['bench', '--model', 'tiny', '--steps', '1'], /--steps: must be an integer in \[2, 1024\], got "1"/],
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

describe('maskgit bench | info, npm start', () => {
  it('bench times MaskGIT against the autoregressive baseline on the model, and its VQ decoder', () => {
    const r = cli('--json', 'bench', '--model', 'tiny', '--steps', '4,6', '--runs', '1');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe(''); // --json: no progress
    const row = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(row).toMatchObject({ bench: 'decode', tokens: 64, steps: 4, extrapolated: false });
    expect(Object.keys(row.maskgit_ms_by_steps as object)).toEqual(['4', '6']);
    for (const key of ['maskgit_ms', 'maskgit_step_ms', 'ar_ms', 'ar_kv_ms', 'ratio', 'flop_ratio', 'vq_decode_ms']) {
      expect(typeof row[key] === 'number' && (row[key] as number) > 0, key).toBe(true);
    }
    // ratio is computed from the unrounded times; ar_ms and maskgit_ms are printed to 0.1 ms
    // and ratio to 0.01, so the quotient of the printed times may differ by their rounding.
    const arMs = row.ar_ms as number;
    const maskgitMs = row.maskgit_ms as number;
    const quotient = arMs / maskgitMs;
    const roundingBound = quotient * (0.05 / arMs + 0.05 / maskgitMs) * 1.01 + 0.005;
    expect(Math.abs((row.ratio as number) - quotient)).toBeLessThanOrEqual(roundingBound);
    const human = cli('bench', '--model', 'tiny', '--steps', '2', '--no-autoregressive');
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/MaskGIT 2 steps [\d.]+ ms \([\d.]+ ms a step, [\d.]+ GFLOP\/s\)\n {2}VQ decoder [\d.]+ ms/);
    expect(human.stdout).not.toMatch(/autoregressive/);
    expect(human.stderr).toMatch(/^bench: warm-up 1\/1: MaskGIT 2 steps$/m); // phases on stderr when not a terminal
  });

  it('info prints the adapter, and JSON with --json', () => {
    const r = cli('info');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^adapter: .+\nfeatures: .*\n/);
    const j = cli('--json', 'info');
    expect(j.status).toBe(0);
    expect(JSON.parse(j.stdout)).toHaveProperty('limits');
  });

  it('npm start: a grid of 8 images per class from the bundled folder, or how to train one', () => {
    const start = join(root, 'scripts/start.mjs');
    const missing = run(start, [], { MASKGIT_START_MODEL: join(work, 'no-model') });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/has no model \(no config\.json\).*\n.*\n {2}npx maskgit train-tokenizer --out runs\/emoji-vq\n {2}npx maskgit train --tokenizer runs\/emoji-vq\/model/);
    const tokenizerOnly = run(start, [], { MASKGIT_START_MODEL: join(work, 'tokenizer-only') });
    expect(tokenizerOnly.status).toBe(1);
    expect(tokenizerOnly.stderr).toMatch(/holds tokenizer only/);
    const r = run(start, ['--steps', '2', '--out', join(work, 'start-grid.png')], { MASKGIT_START_MODEL: model });
    expect(r.status, r.stderr).toBe(0);
    // 9 classes (the null class skipped) x 8 per class: a row per class.
    expect([png('start-grid.png').width, png('start-grid.png').height]).toEqual([8 * 32 + 7 * 2, 9 * 32 + 8 * 2]);
    // The bundled model itself (the README's main job), at 2 steps to stay quick.
    const bundled = run(start, ['--steps', '2', '--out', join(work, 'bundled-grid.png')], {});
    expect(bundled.status, bundled.stderr).toBe(0);
    expect(bundled.stdout).toMatch(/wrote .*bundled-grid\.png \(72 images of 32x32\)/);
    expect([png('bundled-grid.png').width, png('bundled-grid.png').height]).toEqual([8 * 32 + 7 * 2, 9 * 32 + 8 * 2]);
  });
});
