#!/usr/bin/env node
// Measures converting and loading a model in a fresh process (uses the built dist/):
//   node scripts/measure-model.mjs convert <out-dir> <checkpoint> [<checkpoint>] [--dtype f16]
//   node scripts/measure-model.mjs load <model-dir> [f32|f16|auto]
// Prints one JSON line: seconds, peak RSS of the process (MiB) and, for load, the engine
// pool's peak GPU allocation (MiB).
import { readFileSync } from 'node:fs';
import { convertCheckpointFiles, createEngine, loadModelWeights, openFileSource, writeModelFolder } from '../dist/node.js';

const MiB = 2 ** 20;
/** This process's peak RSS. VmHWM where there is one: maxRSS also counts the parent's before exec. */
function peakRss() {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (kb) return Math.round((Number(kb[1]) * 1024) / MiB);
  } catch {
    // not Linux
  }
  return Math.round((process.resourceUsage().maxRSS * 1024) / MiB);
}
const [mode, target, ...rest] = process.argv.slice(2);
const started = performance.now();
const seconds = () => Number(((performance.now() - started) / 1000).toFixed(2));

if (mode === 'convert') {
  const dtype = rest.includes('--dtype') ? rest[rest.indexOf('--dtype') + 1] : 'f32';
  const files = rest.filter((a, i) => a !== '--dtype' && rest[i - 1] !== '--dtype');
  // As `maskgit convert` does: arrays read from the files tensor by tensor as they are written.
  const opened = files.map((file) => ({ ...openFileSource(file), source: file }));
  const model = convertCheckpointFiles(opened, { dtype });
  await writeModelFolder(target, model.config, model.tensors);
  for (const o of opened) o.close();
  console.log(JSON.stringify({ mode, seconds: seconds(), parameters: model.parameters, peakRssMiB: peakRss() }));
} else if (mode === 'load') {
  const engine = await createEngine();
  const rssBefore = Math.round(process.memoryUsage().rss / MiB);
  engine.resetPeakMemory();
  const loadStarted = performance.now();
  const { weights, dtype } = await loadModelWeights(engine, target, { dtype: rest[0] ?? 'auto' });
  await engine.sync();
  const pool = engine.stats().pool;
  console.log(
    JSON.stringify({
      mode,
      dtype,
      tensors: weights.size,
      seconds: Number(((performance.now() - loadStarted) / 1000).toFixed(2)),
      poolPeakMiB: Math.round(pool.peakBytesAllocated / MiB),
      poolInUseMiB: Math.round(pool.bytesInUse / MiB),
      rssBeforeLoadMiB: rssBefore,
      rssAfterMiB: Math.round(process.memoryUsage().rss / MiB),
      peakRssMiB: peakRss(),
    }),
  );
} else {
  console.error('usage: measure-model.mjs convert <out-dir> <checkpoint>... | load <model-dir> [f32|f16|auto]');
  process.exit(2);
}
process.exit(0);
