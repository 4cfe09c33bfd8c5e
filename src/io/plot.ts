import { ArgumentError } from '../errors.js';
import type { RGBAImage } from './png.js';

/**
 * Line charts drawn straight into RGBA pixels (for training curves saved as PNG with
 * encodePNG; no plotting dependency): axes, ticks with labels, grid, a legend, linear or
 * log-10 y axis. Text uses a built-in 3x5 pixel font (digits, a-z, a few symbols).
 */

const GLYPHS: Record<string, string> = {
  '0': '111101101101111', '1': '010110010010111', '2': '111001111100111', '3': '111001111001111',
  '4': '101101111001001', '5': '111100111001111', '6': '111100111101111', '7': '111001010010010',
  '8': '111101111101111', '9': '111101111001111', '.': '000000000000010', '-': '000000111000000',
  ':': '000010000010000', '/': '001001010100100', '(': '010100100100010', ')': '010001001001010',
  '+': '000010111010000', '%': '101001010100101', '=': '000111000111000', ' ': '000000000000000',
  a: '010101111101101', b: '110101110101110', c: '011100100100011', d: '110101101101110',
  e: '111100110100111', f: '111100110100100', g: '011100101101011', h: '101101111101101',
  i: '111010010010111', j: '001001001101010', k: '101101110101101', l: '100100100100111',
  m: '101111111101101', n: '110101101101101', o: '010101101101010', p: '110101110100100',
  q: '010101101110011', r: '110101110101101', s: '011100010001110', t: '111010010010010',
  u: '101101101101111', v: '101101101101010', w: '101101111111101', x: '101101010101101',
  y: '101101010010010', z: '111001010100111',
};

export type Color = readonly [number, number, number];

/** A canvas of RGBA pixels with the few drawing operations the charts need. */
export class Canvas {
  readonly data: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Color = [255, 255, 255],
  ) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new ArgumentError('size', `must be positive integers, got ${width}x${height}`);
    this.data = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) this.data.set([background[0], background[1], background[2], 255], i * 4);
  }

  pixel(x: number, y: number, c: Color): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.data.set(c, (y * this.width + x) * 4);
  }

  rect(x: number, y: number, w: number, h: number, c: Color): void {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.pixel(x + i, y + j, c);
  }

  /** A line of the given thickness (square pen) from (x0, y0) to (x1, y1). */
  line(x0: number, y0: number, x1: number, y1: number, c: Color, thickness = 1): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const r = Math.floor((thickness - 1) / 2);
    for (let s = 0; s <= steps; s++) {
      const x = x0 + ((x1 - x0) * s) / steps;
      const y = y0 + ((y1 - y0) * s) / steps;
      this.rect(Math.round(x) - r, Math.round(y) - r, thickness, thickness, c);
    }
  }

  /** Text with the 3x5 font scaled by `scale`; returns its width in pixels. Unknown characters draw as blanks. */
  text(x: number, y: number, text: string, c: Color, scale = 2): number {
    let at = x;
    for (const ch of text.toLowerCase()) {
      const glyph = GLYPHS[ch] ?? GLYPHS[' ']!;
      for (let row = 0; row < 5; row++) for (let col = 0; col < 3; col++) if (glyph[row * 3 + col] === '1') this.rect(at + col * scale, y + row * scale, scale, scale, c);
      at += 4 * scale;
    }
    return at - x - scale;
  }

  image(): RGBAImage {
    return { width: this.width, height: this.height, data: this.data };
  }
}

export function textWidth(text: string, scale = 2): number {
  return text.length * 4 * scale - scale;
}

export interface Series {
  name: string;
  color: Color;
  /** (x, y) points in order of x; non-finite y values break the line. */
  points: readonly (readonly [number, number])[];
}

export interface ChartOptions {
  width: number;
  height: number;
  title: string;
  xLabel: string;
  series: readonly Series[];
  /** Log-10 y axis (values <= 0 are left out). */
  logY?: boolean;
}

/** A short label for a tick value. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const [m, e] = v.toExponential(0).split('e');
    return `${m}e${Number(e)}`;
  }
  return String(Number(v.toPrecision(3)));
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  // The round step nearest the raw one (by ratio).
  const step = [1, 2, 5, 10].map((m) => m * mag).reduce((best, s) => (Math.abs(Math.log(s / raw)) < Math.abs(Math.log(best / raw)) ? s : best));
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const AXIS: Color = [90, 90, 90];
const GRID: Color = [232, 232, 232];
const TEXT: Color = [40, 40, 40];

/** Draws one chart. */
export function drawLineChart(options: ChartOptions): RGBAImage {
  const { width, height, series, logY } = options;
  const canvas = new Canvas(width, height);
  const left = 64;
  const right = 16;
  const top = 34;
  const bottom = 40;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  if (plotW < 20 || plotH < 20) throw new ArgumentError('size', `${width}x${height} is too small for a chart`);
  const ty = (v: number) => (logY ? Math.log10(v) : v);
  const usable = (p: readonly [number, number]) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!logY || p[1] > 0);
  const pts = series.flatMap((s) => s.points.filter(usable));
  let [x0, x1] = pts.length ? [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))] : [0, 1];
  let [y0, y1] = pts.length ? [Math.min(...pts.map((p) => ty(p[1]))), Math.max(...pts.map((p) => ty(p[1])))] : [0, 1];
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const sx = (x: number) => left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number) => top + plotH - ((y - y0) / (y1 - y0)) * plotH;

  // Grid and tick labels.
  const yTicks = logY ? logTicks(y0, y1) : niceTicks(y0, y1).map((v) => ({ at: v, label: formatTick(v) }));
  for (const { at, label } of yTicks) {
    const y = sy(at);
    if (y < top - 0.5 || y > top + plotH + 0.5) continue;
    canvas.line(left, y, left + plotW, y, GRID);
    canvas.text(left - 6 - textWidth(label), Math.round(y) - 5, label, TEXT);
  }
  for (const v of niceTicks(x0, x1, 6)) {
    const x = sx(v);
    canvas.line(x, top, x, top + plotH, GRID);
    const label = formatTick(v);
    // Centred under the tick, kept inside the image (the last tick sits at the right edge).
    canvas.text(Math.min(width - 1 - textWidth(label), Math.round(x - textWidth(label) / 2)), top + plotH + 6, label, TEXT);
  }
  canvas.line(left, top, left, top + plotH, AXIS);
  canvas.line(left, top + plotH, left + plotW, top + plotH, AXIS);
  canvas.text(left, 8, options.title, TEXT);
  canvas.text(left + plotW - textWidth(options.xLabel), height - 14, options.xLabel, TEXT);

  // The lines, clipped to the plot (screen points kept to place the legend).
  const drawn: [number, number][] = [];
  for (const s of series) {
    let prev: [number, number] | null = null;
    for (const p of s.points) {
      if (!usable(p)) {
        prev = null;
        continue;
      }
      const q: [number, number] = [sx(p[0]), Math.min(top + plotH, Math.max(top, sy(ty(p[1]))))];
      if (prev) {
        canvas.line(prev[0], prev[1], q[0], q[1], s.color, 2);
        // Samples along the segment, every few pixels: sparse series (evaluations) cross boxes too.
        const n = Math.ceil(Math.hypot(q[0] - prev[0], q[1] - prev[1]) / 4);
        for (let i = 1; i < n; i++) drawn.push([prev[0] + ((q[0] - prev[0]) * i) / n, prev[1] + ((q[1] - prev[1]) * i) / n]);
      } else canvas.rect(Math.round(q[0]) - 1, Math.round(q[1]) - 1, 2, 2, s.color);
      drawn.push(q);
      prev = q;
    }
  }

  // Legend inside the plot, in the corner that covers the fewest drawn points (top right on a tie).
  const boxW = Math.max(0, ...series.map((s) => textWidth(s.name))) + 30;
  const boxH = series.length * 16 + 4;
  const corners: [number, number][] = [
    [left + plotW - boxW - 2, top + 2],
    [left + plotW - boxW - 2, top + plotH - boxH - 2],
    [left + 2, top + 2],
    [left + 2, top + plotH - boxH - 2],
  ];
  const covered = ([bx, by]: [number, number]) => drawn.filter(([x, y]) => x >= bx - 2 && x <= bx + boxW + 2 && y >= by - 2 && y <= by + boxH + 2).length;
  const [bx, by] = corners.reduce((best, c) => (covered(c) < covered(best) ? c : best));
  let ly = by + 4;
  for (const s of series) {
    const w = textWidth(s.name);
    const lx = bx + boxW - w - 22;
    canvas.rect(lx - 4, ly - 2, w + 26, 14, [255, 255, 255]);
    canvas.rect(lx, ly + 2, 12, 6, s.color);
    canvas.text(lx + 16, ly, s.name, TEXT);
    ly += 16;
  }
  return canvas.image();
}

/** Log-axis ticks (in log10 units): each power of ten, with 2x and 5x when the range is short. */
function logTicks(lo: number, hi: number): { at: number; label: string }[] {
  const out: { at: number; label: string }[] = [];
  const mults = hi - lo < 2.5 ? [1, 2, 5] : [1];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of mults) {
      const at = e + Math.log10(m);
      if (at >= lo && at <= hi) out.push({ at, label: formatTick(m * 10 ** e) });
    }
  }
  return out;
}

/** Images of the same width stacked vertically. */
export function stackImages(images: readonly RGBAImage[]): RGBAImage {
  if (images.length === 0) throw new ArgumentError('images', 'needs at least one image');
  const width = images[0]!.width;
  if (images.some((im) => im.width !== width)) throw new ArgumentError('images', 'must all have the same width');
  const height = images.reduce((h, im) => h + im.height, 0);
  const data = new Uint8Array(width * height * 4);
  let at = 0;
  for (const im of images) {
    data.set(im.data, at);
    at += im.data.length;
  }
  return { width, height, data };
}

/** Nearest-neighbour enlargement by an integer factor (small images made visible). */
export function enlarge(image: RGBAImage, factor: number): RGBAImage {
  if (!Number.isInteger(factor) || factor < 1) throw new ArgumentError('factor', `must be a positive integer, got ${factor}`);
  const width = image.width * factor;
  const height = image.height * factor;
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (Math.floor(y / factor) * image.width + Math.floor(x / factor)) * 4;
      data.set(image.data.subarray(s, s + 4), (y * width + x) * 4);
    }
  }
  return { width, height, data };
}
