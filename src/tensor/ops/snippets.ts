import activationFunctions from '../../../kernels/activation-functions.wgsl';
import workgroupReduce from '../../../kernels/workgroup-reduce.wgsl';
import { defineKernel, type Kernel } from '../kernel.js';

/**
 * WGSL snippets: functions (and their workgroup variables) shared by several kernel families,
 * written once and prepended to the sources that use them. Their defines become the kernel's.
 */
export const SNIPPETS = {
  /** gelu_tanh, gelu_erf, relu (f32 -> f32). No defines. */
  activationFunctions,
  /** wr_init, wg_sum, wg_max over a 1-D workgroup. Defines: WG, SUBGROUPS. */
  workgroupReduce,
} as const;

/** A kernel family whose source is the given snippets followed by its own text. */
export function kernelWithSnippets(name: string, source: string, snippets: readonly string[]): Kernel {
  return defineKernel(name, [...snippets, source].join('\n'));
}
