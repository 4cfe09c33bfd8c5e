// Training curves drawn into RGBA pixels (src/io/plot.ts).
import { describe, expect, it } from 'vitest';
import { Canvas, drawLineChart, enlarge, formatTick, niceTicks, stackImages, textWidth } from '../src/io/plot.js';
import { decodePNG, encodePNG } from '../src/io/png.js';

const count = (data: Uint8Array, c: readonly number[]) => {
  let n = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i] === c[0] && data[i + 1] === c[1] && data[i + 2] === c[2]) n++;
  return n;
};

describe('plots', () => {
  it('picks round ticks and short labels', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(3, 1497, 6)).toEqual([200, 400, 600, 800, 1000, 1200, 1400]);
    expect(niceTicks(2, 2)).toEqual([2]);
    expect([0, 0.5, 1500, 0.00012, 2e6, -3].map(formatTick)).toEqual(['0', '0.5', '1500', '1e-4', '2e6', '-3']);
  });

  it('draws text, lines and a legend in the series colours', () => {
    const canvas = new Canvas(40, 20);
    expect(canvas.text(1, 1, 'ab1', [0, 0, 0])).toBe(textWidth('ab1'));
    expect(count(canvas.data, [0, 0, 0])).toBeGreaterThan(20);
    const red = [200, 10, 10] as const;
    const blue = [10, 10, 200] as const;
    const image = drawLineChart({
      width: 400,
      height: 200,
      title: 'loss',
      xLabel: 'step',
      logY: true,
      series: [
        { name: 'a', color: red, points: Array.from({ length: 50 }, (_, i) => [i, Math.exp(-i / 10)] as const) },
        { name: 'b', color: blue, points: [[0, 0], [10, -1], [20, 0.5], [30, NaN], [40, 0.1]] }, // non-positive and NaN values are skipped on a log axis
      ],
    });
    expect([image.width, image.height]).toEqual([400, 200]);
    expect(count(image.data, red)).toBeGreaterThan(200); // a line across the plot
    expect(count(image.data, blue)).toBeGreaterThan(50);
    const png = decodePNG(encodePNG(stackImages([image, image])));
    expect([png.width, png.height]).toEqual([400, 400]);
    const big = enlarge({ width: 2, height: 1, data: Uint8Array.from([1, 2, 3, 255, 4, 5, 6, 255]) }, 2);
    expect([...big.data.subarray(0, 16)]).toEqual([1, 2, 3, 255, 1, 2, 3, 255, 4, 5, 6, 255, 4, 5, 6, 255]);
  });
  it('puts the legend in a corner the curves leave free (a rising curve keeps its top right)', () => {
    const green = [20, 160, 20] as const;
    const rising = Array.from({ length: 12 }, (_, i) => [i * 500, 18 + Math.log1p(i)] as const); // like held-out PSNR
    const image = drawLineChart({ width: 400, height: 200, title: 'psnr', xLabel: 'step', series: [{ name: 'held-out PSNR (dB)', color: green, points: rising }] });
    const greenIn = (x0: number, x1: number, y0: number, y1: number) => {
      let n = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (count(image.data.subarray((y * 400 + x) * 4, (y * 400 + x) * 4 + 4), green)) n++;
      return n;
    };
    // The legend's swatch (a solid 12 x 6 block) sits in the bottom right, which the curve
    // leaves empty, not over the curve's end at the top right ...
    const solid = (x0: number, y0: number) => greenIn(x0, x0 + 12, y0, y0 + 6) === 72;
    const swatches: [number, number][] = [];
    for (let y = 0; y < 194; y++) for (let x = 0; x < 388; x++) if (solid(x, y)) swatches.push([x, y]);
    expect(swatches.length).toBeGreaterThan(0);
    for (const [x, y] of swatches) expect([x > 200, y > 100]).toEqual([true, true]);
    // ... whose last segment is drawn in full.
    expect(greenIn(340, 384, 34, 50)).toBeGreaterThan(20);
  });
});
