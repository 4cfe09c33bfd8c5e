// The `kernels` group: micro-benchmarks of single kernels against the WebGPU peers. Each
// family's rows live in their own file and are listed here (add a line per family).
import type { BenchContext, BenchGroup } from '../harness.js';
import { runTransformerKernels } from './transformer-kernels.js';

const PARTS: ((ctx: BenchContext) => Promise<void>)[] = [runTransformerKernels];

export const kernelsGroup: BenchGroup = {
  name: 'kernels',
  description: 'single kernels (attention, layernorm, softmax, gelu, ...) against tfjs-webgpu on the same adapter',
  async run(ctx) {
    for (const part of PARTS) await part(ctx);
  },
};
