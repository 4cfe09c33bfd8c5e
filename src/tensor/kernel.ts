import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

/**
 * A kernel family: one WGSL source under kernels/, templated. `${NAME}` in the source is
 * replaced by the value of define NAME; `#if ${NAME}` ... `#elif ${OTHER}` ... `#else` ...
 * `#endif` keep or drop code (wgsl-preprocessor). Pipelines are compiled once per
 * (kernel, defines) and cached by the engine.
 */
export interface Kernel {
  readonly name: string;
  readonly source: string;
  readonly entryPoint?: string;
}

export type DefineValue = string | number | boolean;
export type Defines = Readonly<Record<string, DefineValue>>;

export function defineKernel(name: string, source: string, entryPoint?: string): Kernel {
  return entryPoint === undefined ? { name, source } : { name, source, entryPoint };
}

const PLACEHOLDER = /\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}/g;

/** Renders a templated WGSL source with the given defines. */
export function renderWGSL(kernel: Kernel, defines: Defines): string {
  const strings: string[] = [];
  const values: DefineValue[] = [];
  let last = 0;
  for (const match of kernel.source.matchAll(PLACEHOLDER)) {
    const name = match[1]!;
    if (!(name in defines)) {
      throw new Error(`kernel ${kernel.name}: define \${${name}} has no value (given: ${Object.keys(defines).join(', ') || 'none'})`);
    }
    strings.push(kernel.source.slice(last, match.index));
    values.push(defines[name]!);
    last = match.index! + match[0].length;
  }
  strings.push(kernel.source.slice(last));
  let code = wgsl(strings, ...values.map((v) => (typeof v === 'number' ? String(v) : v)));
  // Extensions are enabled by use, so kernel sources need not repeat them.
  const enables: string[] = [];
  if (/\bf16\b/.test(code) && !/enable f16;/.test(code)) enables.push('enable f16;');
  if (/\bsubgroup[A-Z]\w*\s*\(|subgroup_size|subgroup_invocation_id/.test(code) && !/enable subgroups;/.test(code)) {
    enables.push('enable subgroups;');
  }
  if (enables.length) code = enables.join('\n') + '\n' + code;
  return code;
}

export function pipelineKey(kernel: Kernel, defines: Defines): string {
  const keys = Object.keys(defines).sort();
  return kernel.name + '|' + keys.map((k) => `${k}=${String(defines[k])}`).join(',');
}
