import activationSource from '../../../kernels/activation.wgsl';
import { ShapeError } from '../../errors.js';
import type { DType } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import type { Activation } from './matmul.js';
import { kernelWithSnippets, SNIPPETS } from './snippets.js';

const ACTIVATION = kernelWithSnippets('activation', activationSource, [SNIPPETS.activationFunctions]);
const WG = 256;

/** The activations of the shared WGSL snippet: the GEMM epilogue's, and leaky ReLU (slope 0.2, discriminators). */
export type ElementwiseActivation = Activation | 'leaky_relu';
const ACTIVATIONS: readonly ElementwiseActivation[] = ['gelu_tanh', 'gelu_erf', 'relu', 'leaky_relu'];

/** out = act(x) elementwise, computed in f32; same shape and dtype (f32 or f16). */
export function activation<D extends DType>(x: Tensor<D>, act: ElementwiseActivation): Tensor<D> {
  return runElementwise('activation', act, x, []);
}

/** One dispatch of an elementwise activation kernel over x (and `more`, shaped like x). */
function runElementwise<D extends DType>(op: string, act: ElementwiseActivation, x: Tensor<D>, more: Tensor[]): Tensor<D> {
  const engine = x.engine;
  if (!ACTIVATIONS.includes(act)) throw new ShapeError(`${op}: unknown "${String(act)}"; expected one of ${ACTIVATIONS.join(', ')}`);
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new ShapeError(`${op} ${act}: x is ${x.dtype}; cast it to f32 or f16`);
  for (const t of more) {
    if (t.dtype !== x.dtype || t.shape.join() !== x.shape.join()) {
      throw new ShapeError(`${op}: the gradient ${t.dtype} [${t.shape.join(', ')}] must match x ${x.dtype} [${x.shape.join(', ')}]`);
    }
  }
  const out = engine.empty(x.shape, x.dtype);
  if (out.size === 0) return out;
  const v4 = x.size % 4 === 0;
  const n = v4 ? x.size / 4 : x.size;
  engine.run({
    kernel: ACTIVATION,
    defines: { T: x.dtype, ACT: act, GRAD: more.length > 0, V4: v4, WG },
    params: [n],
    inputs: [x, ...more],
    outputs: [out],
    workgroups: engine.grid(Math.ceil(n / WG)),
  });
  return out;
}

/** GELU: 'tanh' is the approximation JAX (and the official MaskGIT) uses; 'erf' the exact form. */
export function gelu<D extends DType>(x: Tensor<D>, form: 'tanh' | 'erf' = 'tanh'): Tensor<D> {
  return activation(x, form === 'erf' ? 'gelu_erf' : 'gelu_tanh');
}

/** The backward of activation(x, act): g * act'(x), with x the activation's input; same shape and dtype. */
export function activationGrad<D extends DType>(x: Tensor<D>, g: Tensor<D>, act: ElementwiseActivation): Tensor<D> {
  return runElementwise('activationGrad', act, x, [g]);
}
