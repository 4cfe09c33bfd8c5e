// Node entry: WebGPU comes from Dawn (the `webgpu` package).
import { installNodeGPU } from './gpu/node-gpu.js';

installNodeGPU();

export * from './index.js';
export { setDawnFlags } from './gpu/node-gpu.js';
