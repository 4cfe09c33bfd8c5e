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
  type KernelProfile,
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
export { backward, constant, disposeGraph, parameter, record, Variable, type BackwardOptions } from './tensor/autograd.js';
export * as grad from './tensor/grad/index.js';
export { AdamW, warmupCosine, type AdamWOptions, type LearningRate } from './maskgit/train/optimizer.js';
export * from './maskgit/schedule.js';
export * from './maskgit/rng.js';
export { randomStream, type RandomKind, type RandomStreamOptions } from './maskgit/random.js';
export { sampleStep, type SampleStepOptions, type SampleStepResult } from './maskgit/sample.js';
export { kthSmallest, remaskByConfidence, SINGLE_DISPATCH_MAX, type RemaskOptions, type SelectOptions } from './maskgit/select.js';
export {
  checkSamplingOptions,
  decodeTokens,
  defaultSteps,
  type DecodeConfig,
  type DecodeOptions,
  type DecodeStepInfo,
  type GuidanceOptions,
  type LogitsModel,
} from './maskgit/decode.js';
export { filteredDistribution, referenceDecode, referenceSample, type LogitsFn, type ReferenceOptions, type ReferenceStep } from './maskgit/reference.js';
export {
  decodeSafetensors,
  encodeSafetensors,
  encodeSafetensorsHeader,
  isSafetensorsDType,
  parseSafetensorsHeader,
  readHeaderLength,
  readSafetensorsFile,
  readSafetensorsStream,
  SAFETENSORS_MAX_HEADER_BYTES,
  safetensorsPieces,
  safetensorsDTypeSize,
  type HostTensor,
  type SafetensorsDType,
  type SafetensorsHeader,
  type SafetensorsSink,
  type SafetensorsTensorInfo,
  type TensorBytes,
} from './io/safetensors.js';
export {
  concatPieces,
  decodeFlaxCheckpoint,
  encodeFlaxCheckpoint,
  FlaxArray,
  flattenFlaxTree,
  memorySource,
  readFlaxCheckpoint,
  type ByteSource,
  type FlaxReadOptions,
  type FlaxTree,
  type FlaxValue,
  type FlaxWriteOptions,
  type LazyBytes,
} from './io/flax.js';
export {
  checkpointParams,
  convertCheckpointFiles,
  convertFlaxCheckpoints,
  identifyCheckpoint,
  sortCheckpoints,
  type CheckpointFile,
  type CheckpointKind,
  type ConvertedModel,
  type ConvertOptions,
  type NamedCheckpoint,
} from './io/convert.js';
export {
  checkModelHeader,
  isModelFileSource,
  loadModelWeights,
  loadSafetensors,
  modelContents,
  modelParamSpecs,
  modelSource,
  openFile,
  parseModelConfig,
  readModelConfig,
  MODEL_CONFIG_FILE,
  MODEL_PARTS,
  MODEL_WEIGHTS_FILE,
  MODEL_WEIGHTS_METADATA,
  modelConfigText,
  type LoadedWeights,
  type LoadSafetensorsOptions,
  type LoadWeightsOptions,
  type ModelFileSource,
  type ModelFolderConfig,
  type ModelLocation,
  type ModelPart,
} from './io/model.js';
export { defaultModelCache, ModelCache, openRemoteFile, type CacheLike, type CacheStorageLike, type FetchLike, type ModelCacheOptions, type OpenedFile, type RemoteOptions } from './io/remote.js';
export type { ProgressCallback, ProgressInfo } from './io/progress.js';
export { storageDType, uploadTensor, type WeightDType } from './io/upload.js';
export { createMaskGIT, loadMaskGIT, type LoadedMaskGIT, type LoadMaskGITOptions, type MaskGITModel } from './maskgit/load.js';
export { Conv2d, type Conv2dCall } from './nn/conv2d.js';
export { GroupNorm } from './nn/groupnorm.js';
export { ResBlock, type NormOptions } from './nn/resblock.js';
export { Decoder, Encoder, VectorQuantizer, VQGANTokenizer } from './maskgit/tokenizer.js';
export * as nn from './nn/index.js';
export { BidirectionalTransformer, type TransformerForwardOptions } from './maskgit/transformer.js';
export { TrainableTokenizer, CODEBOOK_PARAM, type TokenizerForward } from './maskgit/train/tokenizer-model.js';
export { EmaCodebook, type EmaCodebookOptions } from './maskgit/train/codebook.js';
export { DISCRIMINATOR_PREFIX, discriminatorParams, PatchDiscriminator } from './maskgit/train/discriminator.js';
export { hashInts, imageSlice, psnr, TrainingStream, type AugmentOptions, type ImageSet } from './maskgit/train/data.js';
export {
  DEFAULT_TRAINING_OPTIONS,
  TOKENIZER_PRESETS,
  TokenizerTrainer,
  tokenizerOnlyConfig,
  TRAINING_RECORD_FILE,
  TRAINING_STATE_FILE,
  validateTrainingOptions,
  type EvalRecord,
  type TokenizerTrainingOptions,
  type TrainingData,
  type TrainingHistory,
  type TrainingRecordFile,
} from './maskgit/train/tokenizer-trainer.js';
export { Canvas, drawLineChart, enlarge, stackImages, type ChartOptions, type Series } from './io/plot.js';
export { evaluateTokenizer, reconstructImages, reconstructionGrid, reconstructionMetrics, type ReconstructionMetrics } from './maskgit/train/evaluate.js';
export {
  generate,
  logitsModel,
  shadeMasked,
  type GenerateFrame,
  type GenerateOptions,
  type GenerateProgress,
  type GenerateResult,
  type SamplingOptions,
} from './maskgit/pipeline.js';
export {
  blendPixels,
  defaultBlurRadius,
  editBox,
  gaussianBlur,
  gaussianKernel,
  inpaint,
  latentBox,
  outpaint,
  pixelMask,
  tokenMaskFromPixels,
  upsampleTokenMask,
  type EditOptions,
  type EditResult,
  type InpaintOptions,
  type OutpaintOptions,
  type OutpaintResult,
  type OutpaintSide,
  type OutpaintWindow,
  type PixelBox,
  type PixelMask,
} from './maskgit/edit.js';
export {
  CausalTransformer,
  decodeAutoregressive,
  KVCache,
  referenceAutoregressive,
  type AutoregressiveOptions,
  type CausalForwardOptions,
  type PrefixLogitsFn,
} from './maskgit/autoregressive.js';
export { cachedStepsFlop, decodeFlops, transformerForwardFlop, type DecodeFlops } from './maskgit/cost.js';
export { benchmarkDecode, fitQuadratic, fittedQuadraticSum, type DecodeBenchOptions, type DecodeBenchResult, type DecodeSpread } from './maskgit/benchmark.js';
export { decodePNG, encodePNG, imageGrid, rgbaToRGBFloat, rgbFloatToRGBA, type RGBAImage } from './io/png.js';
export {
  accuracyReport,
  DEFAULT_CLASSIFIER,
  PixelClassifier,
  type AccuracyReport,
  type ClassifierKind,
  type ClassifierMetric,
  type ClassifierOptions,
  type LabelledImageSet,
} from './maskgit/train/classifier.js';
export {
  classConsistencyGrid,
  evaluateClassConsistency,
  modelClassesFor,
  type ClassAccuracy,
  type ClassConsistencyData,
  type ClassConsistencyOptions,
  type ClassConsistencyProgress,
  type ClassConsistencyReport,
  type ClassConsistencyResult,
} from './maskgit/train/class-consistency.js';
export { evaluateMaskedTokens, MVTMTrainer, type MaskedTokenEval, type MVTMOptions, type StepResult } from './maskgit/train/trainer.js';
export { batchAt, drawExample, maskBatch, maskCount, TrainingOrder, type ExampleDraw, type MaskedBatch, type MaskingOptions, type TokenData } from './maskgit/train/mvtm.js';
export { initTrainingWeights, TrainableTransformer, type TrainDropout, type TrainForwardOptions } from './maskgit/train/model.js';
export { encodeImages, flipHorizontal, tokenizeImages } from './maskgit/train/tokens.js';
