export { add, binary, cast, div, maximum, minimum, mul, sub, type BinaryOp } from './elementwise.js';
export { max, sum, sumTo } from './reduce.js';
export { abs, affine, clamp, exp, log, neg, pow, relu, scale, sigmoid, sqrt, square, swish, tanh, unary, type UnaryOp } from './unary.js';
export { matmul, type Activation, type MatmulOptions } from './matmul.js';
export { chooseConvTile, conv2d, convTile, fixedSubgroupSize, type Conv2dOptions, type ConvTile, type FloatDType } from './conv.js';
export { groupNorm, type GroupNormOptions } from './groupnorm.js';
export { avgPool2x2, upsampleNearest2x } from './resample.js';
export { codebookLookup, vqNearest } from './vq.js';
// Gradients (training).
export { swishGrad } from './elementwise.js';
export { groupNormWithStats, type GroupNormResult } from './groupnorm.js';
export { resample2x } from './resample.js';
export { conv2dFilterGrad, conv2dInputGrad, flipKernel, sumToChannels, type ConvGradOptions } from './conv-grad.js';
export { groupNormBackward, type GroupNormGrads } from './groupnorm-grad.js';
