export { add, binary, cast, div, maximum, minimum, mul, sub, type BinaryOp } from './elementwise.js';
export { max, sum } from './reduce.js';
export { attention, attentionQKV, type AttentionOptions, type KVAttentionOptions } from './attention.js';
export { layerNorm, type LayerNormOptions } from './layernorm.js';
export { softmax } from './softmax.js';
export { activation, gelu } from './activation.js';
export { embedding } from './embedding.js';
export { sliceLastAxis } from './slice.js';
export { matmul, type Activation, type MatmulOptions } from './matmul.js';
