import { create, globals } from 'webgpu';
import { setGPUProvider } from './provider.js';

/**
 * Dawn's instance must stay referenced for the life of the process: dawn.node can hang at exit
 * or crash if it is collected while work is in flight. One instance per process, kept here.
 */
let instance: GPU | null = null;
let dawnFlags: string[] = [];

/** Options passed to dawn.node's create(), e.g. 'enable-dawn-features=disable_robustness'. */
export function setDawnFlags(flags: string[]): void {
  if (instance) throw new Error('setDawnFlags must be called before the first engine is created');
  dawnFlags = flags;
}

export function installNodeGPU(): void {
  // GPUBufferUsage, GPUShaderStage, GPUMapMode... as globals, as in a browser.
  for (const [name, value] of Object.entries(globals as Record<string, unknown>)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  setGPUProvider(async () => {
    if (!instance) {
      const flags = process.env.MASKGIT_DAWN_FLAGS ? process.env.MASKGIT_DAWN_FLAGS.split(',') : dawnFlags;
      instance = create(flags) as GPU;
    }
    return instance;
  });
}
