// Differentiable ops over Variables (see src/tensor/autograd.ts).
export { add, mul, reshape, scale, sub, sum } from './basic.js';
export { softmaxCrossEntropy, type CrossEntropyOptions } from './loss.js';
export { linear, matmul, type MatmulGradOptions } from './matmul.js';
export { attention, dropout, embedding, firstRows, gelu, layerNorm, leakyRelu } from './nn.js';
export { hingeLoss, innerProduct, mean, meanAbsoluteError, meanSquaredError } from './loss.js';
export { avgPool2x2, conv2d, groupNorm, swish, upsampleNearest2x, type Conv2dGradOptions, type GroupNormGradOptions } from './conv.js';
export { vectorQuantize, type VectorQuantized } from './vq.js';
