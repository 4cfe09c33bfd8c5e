export { add, binary, cast, div, maximum, minimum, mul, sub, type BinaryOp } from './elementwise.js';
export { max, sum, sumTo } from './reduce.js';
export { abs, affine, clamp, exp, log, neg, pow, relu, scale, sigmoid, sqrt, square, swish, tanh, unary, type UnaryOp } from './unary.js';
export { matmul, type Activation, type MatmulOptions } from './matmul.js';
