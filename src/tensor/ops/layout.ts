// How kernels that can split the same work finely or coarsely lay out their workgroups.
import type { Engine } from '../engine.js';
import { gemmAdapter } from './gemm-tuning.js';

/**
 * 'gpu': many small workgroups (GPUs keep thousands of invocations in flight); 'cpu': fewer,
 * larger ones, since CPU adapters (lavapipe, SwiftShader) run each workgroup as a call on
 * a thread and pay per workgroup and per extra reduction step. 'auto' (the default) picks by
 * adapter. Kernels that use it: groupNorm and its backward.
 * Tests set it to check both layouts on any adapter.
 */
export const workgroupLayout: { mode: 'auto' | 'gpu' | 'cpu' } = { mode: 'auto' };

/** The layout in effect on `engine`. */
export function layoutFor(engine: Engine): 'gpu' | 'cpu' {
  if (workgroupLayout.mode !== 'auto') return workgroupLayout.mode;
  return gemmAdapter(engine).cpu ? 'cpu' : 'gpu';
}
