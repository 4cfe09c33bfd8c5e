export { add, binary, cast, div, maximum, minimum, mul, sub, type BinaryOp } from './elementwise.js';
export { max, sum, sumTo } from './reduce.js';
export { abs, affine, clamp, exp, log, neg, positive, pow, relu, scale, sigmoid, sign, sqrt, square, swish, tanh, unary, type UnaryOp } from './unary.js';
export { attention, attentionQKV, type AttentionOptions, type KVAttentionOptions } from './attention.js';
export { layerNorm, type LayerNormOptions } from './layernorm.js';
export { softmax } from './softmax.js';
export { activation, gelu, type ElementwiseActivation } from './activation.js';
export { embedding } from './embedding.js';
export { sliceLastAxis } from './slice.js';
export { matmul, type Activation, type MatmulOptions } from './matmul.js';
export { chooseConvTile, conv2d, convTile, fixedSubgroupSize, type Conv2dOptions, type ConvTile, type FloatDType } from './conv.js';
export { groupNorm, type GroupNormOptions } from './groupnorm.js';
export { avgPool2x2, upsampleNearest2x } from './resample.js';
export { codebookLookup, vqNearest } from './vq.js';
// Backward kernels (training the transformer).
export { activationGrad } from './activation.js';
export { attentionWithLSE } from './attention.js';
export { attentionBackward, type AttentionBackwardOptions } from './attention-grad.js';
export { layerNormBackward, type LayerNormGrads } from './layernorm-grad.js';
export { embeddingWordGrad } from './embedding-grad.js';
export { dropout, dropoutKeeps, type DropoutOptions } from './dropout.js';
// Gradients (training).
export { swishGrad } from './elementwise.js';
export { groupNormWithStats, type GroupNormResult } from './groupnorm.js';
export { resample2x } from './resample.js';
export { conv2dFilterGrad, conv2dForTraining, conv2dInputGrad, convGradDefaults, flipKernel, sumToChannels, type ConvGradOptions } from './conv-grad.js';
export { groupNormBackward, type GroupNormGrads } from './groupnorm-grad.js';
