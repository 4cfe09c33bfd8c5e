// Browser entry: WebGPU comes from navigator.gpu.
export * from './index.js';
