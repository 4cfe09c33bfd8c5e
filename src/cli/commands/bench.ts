import type { Command } from 'commander';
import { ArgumentError } from '../../errors.js';
import { benchmarkDecode, type DecodeBenchResult, type DecodeSpread } from '../../maskgit/benchmark.js';
import { OFFICIAL_TRANSFORMER, officialConfig, type TransformerConfig } from '../../maskgit/config.js';
import { randomWeights } from '../../maskgit/init.js';
import { transformerParams } from '../../maskgit/weights.js';
import { createEngine } from '../../tensor/engine.js';
import { timeAlternating } from '../../timing.js';
import type { Output } from '../output.js';
import { stepBar } from '../progress.js';
import { integerFlag, loadModel, readConfig, secondsSince } from './sampling.js';

/** Random-weight transformers at the official token count (16x16 + the class token) and vocabulary. */
const PRESETS: Record<string, TransformerConfig> = {
  small: { ...OFFICIAL_TRANSFORMER, numLayers: 4, hiddenSize: 256, numHeads: 4, mlpSize: 1024, maxPositions: 257 },
  mid: { ...OFFICIAL_TRANSFORMER, numLayers: 8, hiddenSize: 512, numHeads: 8, mlpSize: 2048, maxPositions: 257 },
  official: { ...OFFICIAL_TRANSFORMER, maxPositions: 257 },
};

interface BenchFlags {
  model?: string;
  preset?: string;
  steps: string;
  runs: string;
  extrapolate?: boolean;
  autoregressive: boolean;
  dtype: string;
}

function describe(r: DecodeBenchResult & { vq_decode_ms?: number }): string {
  const lines = [
    `${r.config}: ${r.tokens} image tokens${r.extrapolated ? ' (EXTRAPOLATED figures, see below)' : ''}`,
    `  MaskGIT ${Object.entries(r.maskgit_ms_by_steps).map(([s, ms]) => `${s} steps ${ms} ms`).join(', ')} (${r.maskgit_step_ms} ms a step, ${r.maskgit_gflops} GFLOP/s)`,
  ];
  if (r.ar_ms !== null) {
    lines.push(`  autoregressive ${r.tokens} steps: uncached ${r.ar_ms} ms (${r.ratio}x MaskGIT's time; ${r.flop_ratio}x its FLOPs), KV cache ${r.ar_kv_ms} ms (${r.kv_ratio}x; ${r.kv_flop_ratio}x its FLOPs)`);
  }
  if (r.vq_decode_ms !== undefined) lines.push(`  VQ decoder ${r.vq_decode_ms} ms (not in the times above)`);
  const range = (name: string, s: DecodeSpread | null, unit = ' ms') => (s ? [`${name} ${s.min}-${s.max}${unit}`] : []);
  const ranges = [...range('MaskGIT', r.spread.maskgit_ms), ...range('uncached', r.spread.ar_ms), ...range('KV cache', r.spread.ar_kv_ms), ...range('ratio', r.spread.ratio, 'x')];
  lines.push(`  medians of ${r.runs} round${r.runs === 1 ? '' : 's'} after ${r.warmup} warm-up (every way once a round, alternating); min-max: ${ranges.join(', ')}`);
  if (r.extrapolated) lines.push(`  EXTRAPOLATED, not measured end to end: ${r.extrapolated}`);
  return lines.join('\n');
}

/**
 * `maskgit bench`: times token generation on this adapter (MaskGIT's parallel decode per
 * step and in full, against the autoregressive baseline over the same weights), for a model
 * folder or a random-weight preset.
 */
export function registerBench(program: Command, output: () => Output): void {
  program
    .command('bench')
    .description('time generation on this adapter: MaskGIT per step and in full vs the autoregressive baseline (same weights)')
    .option('--model <dir>', 'a model folder to time (its VQ decoder is timed too)')
    .option('--preset <name>', `random weights instead of a model: ${Object.keys(PRESETS).join(', ')} (16x16 tokens)`)
    .option('--steps <n[,n...]>', 'MaskGIT step counts to time (the first is compared)', '8,12')
    .option('--runs <n>', 'timed rounds after one warm-up round, every way once a round (medians)', '1')
    .option('--extrapolate', 'time a few steps of each way and scale (large models on slow adapters)')
    .option('--no-autoregressive', 'time MaskGIT only')
    .option('--dtype <dtype>', "weights on the GPU: auto (the file's), f32 or f16", 'auto')
    .addHelpText(
      'after',
      [
        '',
        'Times are to a readback of the tokens. The uncached baseline reruns the causal transformer over the',
        'prefix every step (VQGAN\'s sampler); the cached one keeps keys and values. flop_ratio is the ratio',
        'of the work, to read the measured ratio against. --json prints one {"bench":"decode",...} line.',
        '',
        'Examples:',
        '  $ maskgit bench --preset small',
        '  $ maskgit bench --model models/emoji-32 --steps 8 --runs 3',
        '  $ maskgit --json bench --preset official --extrapolate',
        '  $ maskgit bench --preset mid --no-autoregressive --steps 8,12,16',
      ].join('\n'),
    )
    .action(async (flags: BenchFlags) => {
      const out = output();
      const started = performance.now();
      if ((flags.model === undefined) === (flags.preset === undefined)) throw new ArgumentError('--model', 'give a model folder (--model DIR) or a preset (--preset small|mid|official), one of the two');
      const steps = flags.steps.split(',').map((s) => integerFlag('--steps', s.trim(), 2, 1024)!);
      const runs = integerFlag('--runs', flags.runs, 1, 100)!;
      const preset = flags.preset === undefined ? undefined : PRESETS[flags.preset];
      if (flags.preset !== undefined && !preset) throw new ArgumentError('--preset', `must be one of ${Object.keys(PRESETS).join(', ')}, got "${flags.preset}"`);
      const bar = stepBar(out, 'bench');
      const onPhase = (phase: string, index: number, phases: number) => {
        bar.update(index, phases, `: ${phase}`);
        if (process.stderr.isTTY !== true) out.info(`bench: ${phase}`);
      };
      const options = { steps, runs, mode: flags.extrapolate ? 'extrapolate' : 'full', autoregressive: flags.autoregressive, onPhase } as const;
      let result: DecodeBenchResult & { vq_decode_ms?: number };
      try {
        if (preset) {
          const engine = await createEngine();
          const weights = randomWeights(engine, transformerParams(preset), { seed: 1 });
          result = await benchmarkDecode(weights, { ...officialConfig(256), transformer: preset }, { ...options, name: `${flags.preset} ${preset.numLayers}x${preset.hiddenSize} (random weights)` });
          for (const w of weights.values()) w.dispose();
        } else {
          const dir = flags.model!;
          await readConfig(dir); // both parts, before any weight is read
          const model = await loadModel(out, dir, flags.dtype);
          result = await benchmarkDecode(model.weights, model.config, { ...options, name: `${dir} ${model.config.transformer.numLayers}x${model.config.transformer.hiddenSize} (${model.dtype})` });
          const ids = model.engine.tensor(new Int32Array(result.tokens), [1, result.tokens], 'i32');
          const decodeOnce = async () => {
            const image = model.tokenizer.decode(ids);
            await image.read();
            image.dispose();
          };
          const [vq] = await timeAlternating([decodeOnce], { runs, warmup: 1 });
          result.vq_decode_ms = Number(vq!.ms.toFixed(1));
          ids.dispose();
          model.dispose();
        }
      } finally {
        bar.stop();
      }
      out.result({ ...result, seconds: secondsSince(started) }, () => describe(result));
    });
}
