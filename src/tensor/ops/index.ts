export { add, binary, cast, div, maximum, minimum, mul, sub, type BinaryOp } from './elementwise.js';
export { max, sum } from './reduce.js';
export { matmul, type Activation, type MatmulOptions } from './matmul.js';
