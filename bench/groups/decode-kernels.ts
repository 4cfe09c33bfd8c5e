// One MaskGIT decode step's work besides the transformer: sampling + confidence
// (kernels/sample.wgsl) and the top-k cut + mask update (kernels/topk.wgsl), on logits of
// the official vocabulary (2025, the first 1024 sampled), at the first step (every image
// position unknown: the most work). No peer runtime has these kernels.
import { remaskByConfidence, sampleStep, scheduleCuts, type SampleStepOptions } from '../../src/node.js';
import { rowTiming, timeRunners, type BenchGroup } from '../harness.js';

const VOCAB = 2025;
const CODEBOOK = 1024;
const MASK = VOCAB - 1;

export const decodeKernelsGroup: BenchGroup = {
  name: 'decode-kernels',
  description: 'one decode step without the transformer: sample + confidence + top-k cut + mask update',
  async run(ctx) {
    const { engine } = ctx;
    const cases: { kernel: string; batch: number; length: number; extra: Partial<SampleStepOptions> }[] = [
      { kernel: 'decode_step', batch: 1, length: 257, extra: {} },
      { kernel: 'decode_step', batch: 8, length: 257, extra: {} },
      { kernel: 'decode_step', batch: 1, length: 1025, extra: {} },
      { kernel: 'decode_step_topk50_topp0.9', batch: 1, length: 257, extra: { topK: 50, topP: 0.9 } },
    ];
    for (const { kernel, batch, length, extra } of cases) {
      const rows = batch * length;
      const logits = engine.tensor(new Float32Array(rows * VOCAB).map((_, i) => Math.sin(i * 12.9898) * 4), [batch, length, VOCAB]);
      const start = new Int32Array(rows).fill(MASK);
      for (let b = 0; b < batch; b++) start[b * length] = CODEBOOK + b; // class tokens
      const pristine = engine.tensor(start, [batch, length], 'i32');
      const tokens = engine.tensor(start, [batch, length], 'i32');
      const seeds = engine.tensor(Uint32Array.from({ length: batch }, (_, i) => i), [batch], 'u32');
      const cuts = engine.tensor(Int32Array.from({ length: 12 * batch }, (_, k) => scheduleCuts('cosine', length - 1, 12)[Math.floor(k / batch)]!), [12, batch], 'i32');
      const out = { sampled: engine.empty([batch, length], 'i32'), confidence: engine.empty([batch, length], 'f32') };
      const step = () => {
        engine.copy(pristine, 0, tokens, 0, rows * 4); // every run is the first step
        sampleStep(logits, tokens, seeds, { codebookSize: CODEBOOK, maskTokenId: MASK, step: 0, temperature: 1, choiceScale: 4.5 * (1 - 1 / 12), ...extra }, out);
        remaskByConfidence(out.confidence, out.sampled, tokens, cuts, { maskTokenId: MASK, step: 0 });
      };
      const timed = await timeRunners(ctx, [
        async () => {
          step();
          await engine.sync();
        },
      ]);
      ctx.emit({ kernel, shape: `${batch}x${length}x${CODEBOOK}`, gflops: null, ...rowTiming(timed, 0, null), vocab: VOCAB });
      for (const t of [logits, pristine, tokens, seeds, cuts, out.sampled, out.confidence]) t.dispose();
    }
  },
};
