import activationFunctions from '../../../kernels/activation-functions.wgsl';
import workgroupReduce from '../../../kernels/workgroup-reduce.wgsl';
import type { Engine } from '../engine.js';
import { defineKernel, type Kernel } from '../kernel.js';

/**
 * WGSL snippets: functions (and their workgroup variables) shared by several kernel families,
 * written once and prepended to the sources that use them. Their defines become the kernel's.
 */
export const SNIPPETS = {
  /** gelu_tanh, gelu_erf, relu (f32 -> f32). No defines. */
  activationFunctions,
  /** wr_init, wg_sum, wg_max over a 1-D workgroup. Defines: WG, ONE_SUBGROUP (see rowReduction). */
  workgroupReduce,
} as const;

/** A kernel family whose source is the given snippets followed by its own text. */
export function kernelWithSnippets(name: string, source: string, snippets: readonly string[]): Kernel {
  return defineKernel(name, [...snippets, source].join('\n'));
}

/**
 * Workgroup shape for kernels that reduce one row per workgroup with the workgroup-reduce
 * snippet. With subgroups and a known smallest subgroup size, the workgroup is exactly one
 * subgroup (min(that size, 64) lanes: a workgroup no larger than a subgroup is one subgroup),
 * so reductions need no barrier; otherwise `portableWG` invocations reduce through workgroup
 * memory.
 */
export function rowReduction(engine: Engine, portableWG = 64): { WG: number; ONE_SUBGROUP: boolean } {
  const min = engine.info.subgroupMinSize;
  if (engine.hasSubgroups && min !== undefined && min >= 4) return { WG: Math.min(min, 64), ONE_SUBGROUP: true };
  return { WG: portableWG, ONE_SUBGROUP: false };
}
