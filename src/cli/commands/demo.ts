import type { Command } from 'commander';
import { encode } from 'fast-png';
import { join } from 'node:path';
import { createEngine, ops } from '../../node.js';
import { writeFileAtomic } from '../../io/atomic.js';
import type { Output } from '../output.js';
import { formatAdapter } from './info.js';

/**
 * A small end-to-end run of the engine: builds an image from broadcast ops on the GPU and
 * writes it as a PNG. (The main job until a trained model ships with the package.)
 */
export function registerDemo(program: Command, output: () => Output): void {
  program
    .command('demo')
    .description('run a small engine demo on the GPU and write out/engine-demo.png')
    .option('--out <dir>', 'output folder', 'out')
    .option('--size <px>', 'image size', '256')
    .action(async (opts: { out: string; size: string }) => {
      const out = output();
      const size = Number(opts.size);
      const engine = await createEngine();
      out.info(formatAdapter(engine.info).split('\n').slice(0, 2).join('\n'));
      const ramp = Float32Array.from({ length: size }, (_, i) => i / (size - 1));
      const planes = await engine.tidy(() => {
        const x = engine.tensor(ramp, [1, size]);
        const y = engine.tensor(ramp, [size, 1]);
        const r = ops.mul(ops.add(x, y), engine.tensor([0.5], [1]));
        const g = ops.maximum(ops.sub(x, y), ops.sub(y, x));
        const b = ops.mul(x, y);
        return [r, g, b];
      });
      const [r, g, b] = await Promise.all(planes.map((p) => p.read()));
      const rgba = new Uint8Array(size * size * 4);
      for (let i = 0; i < size * size; i++) {
        rgba[i * 4] = Math.round(255 * r![i]!);
        rgba[i * 4 + 1] = Math.round(255 * g![i]!);
        rgba[i * 4 + 2] = Math.round(255 * b![i]!);
        rgba[i * 4 + 3] = 255;
      }
      const file = join(opts.out, 'engine-demo.png');
      await writeFileAtomic(file, encode({ width: size, height: size, data: rgba, channels: 4, depth: 8 }));
      const stats = engine.stats();
      out.result({ file, dispatches: stats.dispatches, submits: stats.submits }, () => `wrote ${file} (${stats.dispatches} dispatches, ${stats.submits} submits)`);
    });
}
