// Differentiable ops over Variables (see src/tensor/autograd.ts).
export { add, mul, reshape, sub, sum } from './basic.js';
export { softmaxCrossEntropy, type CrossEntropyOptions } from './loss.js';
export { linear, matmul, type MatmulGradOptions } from './matmul.js';
export { attention, dropout, embedding, firstRows, gelu, layerNorm } from './nn.js';
