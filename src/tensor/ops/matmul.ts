import gemmSource from '../../../kernels/gemm.wgsl';
import { ShapeError } from '../../errors.js';
import type { DType } from '../dtype.js';
import type { ParamWord } from '../engine.js';
import type { Kernel } from '../kernel.js';
import { broadcastShapes, broadcastStrides, sameShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { chooseGemmConfig, gemmAdapter, type GemmConfig } from './gemm-tuning.js';
import { kernelWithSnippets, SNIPPETS } from './snippets.js';

const GEMM = kernelWithSnippets('gemm', gemmSource, [SNIPPETS.activationFunctions]);
const MAX_BATCH_DIMS = 4;

export type Activation = 'gelu_tanh' | 'gelu_erf' | 'relu';

export interface MatmulOptions {
  /** a is [..., K, M]. */
  transposeA?: boolean;
  /** b is [..., N, K] (e.g. tied output embeddings: h @ embed.word^T). */
  transposeB?: boolean;
  /** [N], added to every row; in the output dtype. */
  bias?: Tensor;
  /** Applied after the bias. */
  activation?: Activation | null;
  /** Same shape and dtype as the output, added last: out = act(a @ b + bias) + residual. */
  residual?: Tensor;
  /** Default: a's dtype. */
  outDtype?: DType;
}

/**
 * Batched matrix product with a fused epilogue: out = act(a @ b + bias) + residual.
 * a is [...batch, M, K], b is [...batch, K, N] (batch dims broadcast like numpy; a plain
 * [K, N] is shared by every batch). f32 or f16 storage (a and b alike), f32 accumulation.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const problem = describe(a, b, options);
  return runGemm(problem, chooseGemmConfig(gemmAdapter(a.engine), problem));
}

/**
 * @internal matmul with an explicit tile configuration (tests exercise every configuration;
 * tuning experiments also pass variants of the kernel source).
 */
export function matmulWithConfig(a: Tensor, b: Tensor, options: MatmulOptions, config: GemmConfig, kernel: Kernel = GEMM): Tensor {
  return runGemm(describe(a, b, options), config, kernel);
}

/** A GEMM over views of a and b's buffers (see matmulView). */
export interface GemmView {
  M: number;
  N: number;
  K: number;
  /** a holds [K, M] (row stride lda) instead of [M, K]. */
  transposeA?: boolean;
  /** Row stride of a in elements; rows may overlap (a sliding window over a buffer). */
  lda: number;
  /** Element offset of a's first matrix in its buffer (default 0). */
  offsetA?: number;
  /** [N] f32, added to every row. */
  bias?: Tensor;
  /** Added to the product (after the bias): a tensor of the output's shape (chains of GEMMs that sum). */
  residual?: Tensor;
  /** Batch axes of the output, outermost first, with the element strides of a and b over them. */
  batchDims: number[];
  strideA: number[];
  strideB: number[];
}

/**
 * @internal A GEMM over strided views: a's rows `lda` elements apart (they may overlap), b
 * plain ([K, N] per batch), explicit batch strides; out [...batchDims, M, N] f32. The
 * convolution gradients use it to read shifted windows of a padded image without unfolding
 * it. The kernel clamps every read to the buffers, so a view must lie inside them.
 */
export function matmulView(a: Tensor, b: Tensor, view: GemmView): Tensor {
  const { M, N, K, lda, batchDims, strideA, strideB } = view;
  const transA = view.transposeA ?? false;
  if (a.dtype !== 'f32' || b.dtype !== 'f32') throw new ShapeError(`matmulView: f32 operands only, got ${a.dtype} and ${b.dtype}`);
  if (batchDims.length > MAX_BATCH_DIMS || strideA.length !== batchDims.length || strideB.length !== batchDims.length) {
    throw new ShapeError(`matmulView: up to ${MAX_BATCH_DIMS} batch axes with one stride each for a and b`);
  }
  const last = (dims: number[], strides: number[]) => dims.reduce((acc, d, i) => acc + (d - 1) * strides[i]!, 0);
  const offsetA = view.offsetA ?? 0;
  const aEnd = offsetA + last(batchDims, strideA) + (transA ? (K - 1) * lda + M : (M - 1) * lda + K);
  const bEnd = last(batchDims, strideB) + K * N;
  if (aEnd > a.size || bEnd > b.size) throw new ShapeError(`matmulView: the views reach elements ${aEnd} of a (${a.size}) and ${bEnd} of b (${b.size})`);
  const batch = batchDims.reduce((x, y) => x * y, 1);
  const problem: GemmProblem = {
    a,
    b,
    options: { transposeA: transA, outDtype: 'f32', ...(view.bias && { bias: view.bias }), ...(view.residual && { residual: view.residual }) },
    M,
    N,
    K,
    batch,
    outShape: [...batchDims, M, N],
    outDtype: 'f32',
    batchDims,
    strideA,
    strideB,
    lda,
    offsetA,
  };
  if (view.residual && (!sameShape(view.residual.shape, problem.outShape) || view.residual.dtype !== 'f32')) {
    throw new ShapeError(`matmulView: residual must be f32 [${problem.outShape.join(', ')}], got ${view.residual.dtype} [${view.residual.shape.join(', ')}]`);
  }
  if (view.bias && (view.bias.size !== N || view.bias.dtype !== 'f32')) throw new ShapeError(`matmulView: bias must be f32 [${N}], got ${view.bias.dtype} [${view.bias.shape.join(', ')}]`);
  return runGemm(problem, chooseGemmConfig(gemmAdapter(a.engine), problem));
}

interface GemmProblem {
  a: Tensor;
  b: Tensor;
  options: MatmulOptions;
  M: number;
  N: number;
  K: number;
  batch: number;
  outShape: number[];
  outDtype: DType;
  /** Collapsed output batch dims (outermost first) and the element strides of a and b over them. */
  batchDims: number[];
  strideA: number[];
  strideB: number[];
  /** Row stride of a in elements when it is not the matrix's own width (views; see matmulView). */
  lda?: number;
  /** Element offset of a's first matrix (views). */
  offsetA?: number;
}

function describe(a: Tensor, b: Tensor, options: MatmulOptions): GemmProblem {
  const transA = options.transposeA ?? false;
  const transB = options.transposeB ?? false;
  const shapeText = `a [${a.shape.join(', ')}]${transA ? ' (transposed)' : ''} @ b [${b.shape.join(', ')}]${transB ? ' (transposed)' : ''}`;
  if (a.rank < 2 || b.rank < 2) {
    throw new ShapeError(`matmul: both operands need at least 2 dimensions; got ${shapeText}. Reshape vectors to [1, K] or [K, 1].`);
  }
  if (a.dtype !== b.dtype) throw new ShapeError(`matmul: a is ${a.dtype} but b is ${b.dtype}; cast one so both match`);
  if (a.dtype !== 'f32' && a.dtype !== 'f16') throw new ShapeError(`matmul: expected f32 or f16 operands, got ${a.dtype}`);
  const outDtype = options.outDtype ?? a.dtype;
  if (outDtype !== 'f32' && outDtype !== 'f16') throw new ShapeError(`matmul: outDtype must be f32 or f16, got ${outDtype}`);
  const engine = a.engine;
  if ((a.dtype === 'f16' || outDtype === 'f16') && !engine.hasF16) {
    throw new ShapeError('matmul: f16 needs the shader-f16 feature, which this adapter does not offer; use f32');
  }
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const [M, K] = transA ? [ac, ar] : [ar, ac];
  const [Kb, N] = transB ? [bc, br] : [br, bc];
  if (K !== Kb) {
    throw new ShapeError(`matmul: inner dimensions differ: ${shapeText} multiplies [${M}, ${K}] by [${Kb}, ${N}]; expected b's K to be ${K}`);
  }
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const outBatch = broadcastShapes(batchA, batchB, 'matmul batch dims');
  const outShape = [...outBatch, M, N];
  const stridesA = broadcastStrides(batchA, outBatch).map((s) => s * M * K);
  const stridesB = broadcastStrides(batchB, outBatch).map((s) => s * K * N);
  const collapsed = collapseBatch(outBatch, stridesA, stridesB);
  if (collapsed.dims.length > MAX_BATCH_DIMS) {
    throw new ShapeError(`matmul: batch dims [${outBatch.join(', ')}] broadcast in a pattern of more than ${MAX_BATCH_DIMS} axes; reshape the operands first`);
  }
  if (options.bias) {
    const bias = options.bias;
    if (bias.rank !== 1 || bias.shape[0] !== N) throw new ShapeError(`matmul: bias must be [${N}] (one value per output column), got [${bias.shape.join(', ')}]`);
    if (bias.dtype !== outDtype) throw new ShapeError(`matmul: bias is ${bias.dtype} but the output is ${outDtype}; cast the bias`);
  }
  if (options.residual) {
    const res = options.residual;
    if (!sameShape(res.shape, outShape)) throw new ShapeError(`matmul: residual must have the output shape [${outShape.join(', ')}], got [${res.shape.join(', ')}]`);
    if (res.dtype !== outDtype) throw new ShapeError(`matmul: residual is ${res.dtype} but the output is ${outDtype}; cast it`);
  }
  const batch = outBatch.reduce((x, y) => x * y, 1);
  return { a, b, options, M, N, K, batch, outShape, outDtype, batchDims: collapsed.dims, strideA: collapsed.sa, strideB: collapsed.sb };
}

/** Drops size-1 batch axes and merges neighbours that both operands step through contiguously. */
function collapseBatch(dims: number[], sa: number[], sb: number[]): { dims: number[]; sa: number[]; sb: number[] } {
  const out = { dims: [] as number[], sa: [] as number[], sb: [] as number[] };
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i]!;
    if (d === 1) continue;
    const last = out.dims.length - 1;
    if (last >= 0 && out.sa[last] === sa[i]! * d && out.sb[last] === sb[i]! * d) {
      out.dims[last]! *= d;
      out.sa[last] = sa[i]!;
      out.sb[last] = sb[i]!;
    } else {
      out.dims.push(d);
      out.sa.push(sa[i]!);
      out.sb.push(sb[i]!);
    }
  }
  return out;
}

const ACT_DEFINES: Record<Activation | 'none', [boolean, boolean, boolean]> = {
  none: [false, false, false],
  relu: [true, false, false],
  gelu_tanh: [false, true, false],
  gelu_erf: [false, false, true],
};

function runGemm(pr: GemmProblem, config: GemmConfig, kernel: Kernel = GEMM): Tensor {
  const { a, b, options, M, N, K } = pr;
  const engine = a.engine;
  const out = engine.empty(pr.outShape, pr.outDtype);
  if (out.size === 0) return out;
  const transA = options.transposeA ?? false;
  const transB = options.transposeB ?? false;
  const activation = options.activation ?? 'none';
  if (!(activation in ACT_DEFINES)) throw new ShapeError(`matmul: unknown activation "${activation}"; expected relu, gelu_tanh or gelu_erf`);
  const [relu, geluTanh, geluErf] = ACT_DEFINES[activation];
  const inputs: Tensor[] = [a, b];
  let binding = 3;
  const bindBias = options.bias ? binding++ : 0;
  if (options.bias) inputs.push(options.bias);
  const bindRes = options.residual ? binding++ : 0;
  if (options.residual) inputs.push(options.residual);

  const lanes = config.kind === 'lanes';
  if (lanes && (config.cols % 32 !== 0 || config.cols === 0)) throw new Error(`gemm: lanes configurations need a multiple of 32 columns, got ${config.cols}`);
  const defines = {
    T: a.dtype,
    OT: pr.outDtype,
    TILED: !lanes,
    W: lanes ? config.workgroupSize : 0,
    TM: lanes ? config.rowsPerLane : 0,
    NG: lanes ? config.cols / 32 : 0,
    SUBGROUP: lanes && config.subgroups,
    BK: lanes ? 0 : config.bk,
    TRANS_A: transA,
    TRANS_B: transB,
    VEC_A: !transA && K % 4 === 0 && K > 0 && (pr.lda ?? K) % 4 === 0,
    VEC_B: K > 0 && (transB ? K % 4 === 0 : N % 4 === 0),
    TAIL: K % 4 !== 0,
    VEC_OUT: N % 4 === 0,
    BIAS: !!options.bias,
    RESIDUAL: !!options.residual,
    ACT_RELU: relu,
    ACT_GELU_TANH: geluTanh,
    ACT_GELU_ERF: geluErf,
    BIND_BIAS: bindBias,
    BIND_RES: bindRes,
    BIND_OUT: binding,
  };
  const pad = (v: number[], fill: number) => [...new Array<number>(MAX_BATCH_DIMS - v.length).fill(fill), ...v];
  const bdim = pad(pr.batchDims, 1);
  const sa = pad(pr.strideA, 0);
  const sb = pad(pr.strideB, 0);
  // LANES: x walks the row blocks, y the column blocks; TILED: x columns, y rows.
  const wx = lanes ? Math.ceil(M / (config.workgroupSize * config.rowsPerLane)) : Math.ceil(N / 64);
  const wy = lanes ? Math.ceil(N / config.cols) : Math.ceil(M / 64);
  const maxGrid = engine.device.limits.maxComputeWorkgroupsPerDimension;
  if (wx > maxGrid || wy > maxGrid) throw new ShapeError(`matmul: a [${M}, ${N}] output needs a ${wx} x ${wy} grid of workgroups, above this adapter's ${maxGrid} per dimension; split it`);
  for (let z0 = 0; z0 < pr.batch; z0 += maxGrid) {
    const params: ParamWord[] = [M, N, K, Math.ceil(K / 4), pr.lda ?? (transA ? M : K), transB ? K : N, z0, pr.offsetA ?? 0, ...bdim, ...sa, ...sb];
    engine.run({ kernel, defines, params, inputs, outputs: [out], workgroups: [wx, wy, Math.min(maxGrid, pr.batch - z0)] });
  }
  return out;
}
