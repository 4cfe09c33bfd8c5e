/// <reference types="@webgpu/types" preserve="true" />
/**
 * @maskgit/core — MaskGIT on a WebGPU tensor engine with hand-written WGSL kernels.
 * This module is the platform-neutral API; `@maskgit/core` resolves to the Node entry
 * (Dawn through the `webgpu` package) in Node and to the browser entry elsewhere.
 */
export * from './errors.js';
export { getGPU, setGPUProvider, type GPUProvider } from './gpu/provider.js';
export {
  createEngine,
  Engine,
  f32,
  i32,
  type AdapterReport,
  type Dispatch,
  type EngineOptions,
  type EngineStats,
  type ParamWord,
} from './tensor/engine.js';
export { Tensor, shapeSize } from './tensor/tensor.js';
export { type DType, dtypeSize } from './tensor/dtype.js';
export { defineKernel, renderWGSL, type Defines, type Kernel } from './tensor/kernel.js';
export type { PoolStats } from './tensor/pool.js';
export { f16ArrayToF32, f32ArrayToF16 } from './tensor/half.js';
export * as ops from './tensor/ops/index.js';
export * from './maskgit/config.js';
export {
  checkWeights,
  decoderParams,
  encoderParams,
  getWeight,
  levelWidths,
  tokenizerParams,
  transformerParams,
  type ParamSpec,
  type Weights,
} from './maskgit/weights.js';
export { initialValues, randomWeights, seededUniform } from './maskgit/init.js';
export * as nn from './nn/index.js';
export { BidirectionalTransformer, type TransformerForwardOptions } from './maskgit/transformer.js';
