import convGradSource from '../../../kernels/conv2d_grad.wgsl';
import padTapsSource from '../../../kernels/pad_taps.wgsl';
import { ShapeError } from '../../errors.js';
import { f32, type Engine } from '../engine.js';
import { defineKernel } from '../kernel.js';
import type { Tensor } from '../tensor.js';
import { conv2d, fixedSubgroupSize } from './conv.js';
import { lanesFor } from './groupnorm.js';
import { matmul, matmulView } from './matmul.js';
import { gemmAdapter } from './gemm-tuning.js';
import { sumTo } from './reduce.js';
import { avgPool2x2 } from './resample.js';

const CONV_GRAD = defineKernel('conv2d_grad', convGradSource);
const PAD_TAPS = defineKernel('pad_taps', padTapsSource);
/** Pixels per workgroup of the padding kernel (its lanes run over channel vectors). */
const PAD_COLS = 16;
const FLIP_WG = 256;
/** Workgroups the weight gradient aims for (chunks of rows are added until there are this many). */
const FILTER_TARGET_WORKGROUPS = 256;

/** How the weight-gradient kernel is tiled: lanes over input channels, CT output channels per workgroup. */
interface FilterTile {
  lanes: number;
  ct: number;
  subgroup: boolean;
}

/**
 * Subgroup path where every subgroup has the same small size (lane l loads dy column l and
 * broadcasts it: CT = the subgroup size, each lane holding CT x V accumulators); otherwise
 * the portable path, 8 lanes that each load the tile's 8 dy values.
 */
function filterTile(engine: Engine): FilterTile {
  const sg = fixedSubgroupSize(engine);
  if (sg >= 4 && sg <= 16) return { lanes: sg, ct: sg, subgroup: true };
  return { lanes: 8, ct: 8, subgroup: false };
}

const generated = new Map<string, { DECLARE: string; MAC: string; STORE: string }>();

/** The straight-line pieces of the FILTER kernel for one tile (see kernels/conv2d_grad.wgsl). */
function filterPieces(tile: FilterTile, v: number): { DECLARE: string; MAC: string; STORE: string } {
  const key = `${tile.ct},${tile.subgroup},${v}`;
  let pieces = generated.get(key);
  if (pieces) return pieces;
  const cols = Array.from({ length: tile.ct }, (_, s) => s);
  const DECLARE = cols.map((s) => `var a${s} = FV(0.0);`).join('\n  ');
  const mac: string[] = [];
  if (tile.subgroup) {
    mac.push('let d0 = dy_at(pix0, lane_co);', 'let d1 = dy_at(pix1, lane_co);');
    for (const s of cols) mac.push(`a${s} += fma(x1, FV(subgroupBroadcast(d1, ${s}u)), x0 * FV(subgroupBroadcast(d0, ${s}u)));`);
  } else {
    for (const s of cols) mac.push(`a${s} += fma(x1, FV(dy_at(pix1, co0 + ${s}u)), x0 * FV(dy_at(pix0, co0 + ${s}u)));`);
  }
  const store: string[] = [];
  for (const s of cols) {
    const lines = Array.from({ length: v }, (_, j) => `partial[(row0 + ${j}u) * p.cout + co0 + ${s}u] = a${s}${v === 1 ? '' : `[${j}]`};`);
    store.push(`if (co0 + ${s}u < p.cout) {\n      ${lines.join('\n      ')}\n    }`);
  }
  pieces = { DECLARE, MAC: mac.join('\n      '), STORE: store.join('\n    ') };
  generated.set(key, pieces);
  return pieces;
}

export interface ConvGradOptions {
  /** The forward conv read its input through a nearest x2 upsampling. */
  upsample?: boolean;
  /**
   * 'gemm': through the engine's GEMM (a plain product for 1x1 kernels, windows of a padded
   * copy for the 3x3 weight gradient, an im2col copy otherwise); 'direct': the conv kernels,
   * no copy; 'auto' (default): GEMM on CPU adapters where it measured faster, else direct
   * (see gradPath).
   */
  method?: 'auto' | 'gemm' | 'direct';
}

/**
 * NHWC `x` [B, H, W, C] (read through a nearest x2 upsampling with `upsample`) on a grid of
 * `rows` rows of W' + 2 pixels, zero outside the image: image b's pixel (y, x) at grid row
 * b * (H' + 2) + y + shift, column x + shift. Returns [rows * (W' + 2), C].
 */
function padForTaps(x: Tensor, shift: 0 | 1, upsample: boolean, rows: number): Tensor {
  const engine = x.engine;
  const [B, H, W, C] = x.shape as [number, number, number, number];
  const up = upsample ? 2 : 1;
  const [outH, outW] = [H * up, W * up];
  const out = engine.empty([rows * (outW + 2), C], x.dtype);
  const vec = C % 4 === 0;
  const cv = vec ? C / 4 : C;
  engine.run({
    kernel: PAD_TAPS,
    defines: { T: x.dtype, VEC: vec, WG: lanesFor(cv), COLS: PAD_COLS },
    params: [H, W, outH, outW, cv, up - 1, B, shift],
    inputs: [x],
    outputs: [out],
    workgroups: [Math.ceil((outW + 2) / PAD_COLS), rows],
  });
  return out;
}

/**
 * The 3x3 weight gradient as one GEMM over shifted windows (see kernels/pad_taps.wgsl):
 * with x and dy on padded grids of P' = B (H' + 2)(W' + 2) pixels, dW[ky] ([3 Cin, Cout],
 * rows kx * Cin + ci) = X_ky^T dy, where row p' of X_ky is the 3 Cin values of the padded x
 * from pixel p' + ky (W' + 2) on: a window of row stride Cin, so no copy per tap.
 */
function filterGradPadded(x: Tensor, dy: Tensor, up: boolean): Tensor {
  const [B, , , cin] = x.shape as [number, number, number, number];
  const [, outH, outW, cout] = dy.shape as [number, number, number, number];
  const [ph, pw] = [outH + 2, outW + 2];
  // Three spare rows: the last window reaches 2 (W' + 2) + 2 pixels past the grid.
  const xp = padForTaps(x, 1, up, B * ph + 3);
  const dyp = padForTaps(dy, 0, false, B * ph);
  const out = matmulView(xp, dyp, { M: 3 * cin, N: cout, K: B * ph * pw, transposeA: true, lda: cin, batchDims: [3], strideA: [pw * cin], strideB: [0] });
  xp.dispose();
  dyp.dispose();
  const shaped = out.reshape([3, 3, cin, cout]);
  out.dispose();
  return shaped;
}

/**
 * A stride-1 SAME 3x3 conv of f32 NHWC x (optionally read through a nearest x2 upsampling)
 * as three chained GEMMs over windows of one padded copy of x: for each kernel row ky,
 * out[b, oy] += X[b, oy + ky] @ w[ky], where row ox of X[b, y] is the 3 Cin values of the
 * padded image from pixel (y, ox) on (a window of row stride Cin; batch axes b and oy). The
 * first GEMM adds the bias and the residual. The input gradient runs it with the flipped kernel.
 */
function conv3x3Padded(x: Tensor, w: Tensor, options: { bias?: Tensor; residual?: Tensor; upsample?: boolean } = {}): Tensor {
  const engine = x.engine;
  const [B, inH, inW, cin] = x.shape as [number, number, number, number];
  const up = options.upsample ? 2 : 1;
  const [H, W] = [inH * up, inW * up];
  const cout = w.shape[3]!;
  const [ph, pw] = [H + 2, W + 2];
  const xp = padForTaps(x, 1, up > 1, B * ph);
  const rowBytes = 3 * cin * cout * 4;
  let out: Tensor | undefined;
  for (let ky = 0; ky < 3; ky++) {
    const wk = engine.empty([3 * cin, cout]);
    engine.copy(w, ky * rowBytes, wk, 0, rowBytes);
    const residual = out ?? options.residual;
    const next = matmulView(xp, wk, {
      M: W,
      N: cout,
      K: 3 * cin,
      lda: cin,
      offsetA: ky * pw * cin,
      batchDims: [B, H],
      strideA: [ph * pw * cin, pw * cin],
      strideB: [0, 0],
      ...(ky === 0 && options.bias && { bias: options.bias }),
      ...(residual && { residual }),
    });
    wk.dispose();
    out?.dispose();
    out = next;
  }
  xp.dispose();
  return out!;
}

/**
 * conv2d for training (f32; ops.conv2d's bias, residual and upsampling): on CPU adapters a
 * 3x3 conv takes conv3x3Padded and a 1x1 conv a plain GEMM where the output channels fill the
 * GEMM's 32-column blocks and the input channels its vec4 loads (measured faster on lavapipe,
 * `npm run bench -- --only train`); elsewhere ops.conv2d. `method` as for the gradients.
 */
export function conv2dForTraining(x: Tensor, w: Tensor, options: { bias?: Tensor; residual?: Tensor; upsample?: boolean; method?: ConvGradOptions['method'] } = {}): Tensor {
  const { bias, residual, upsample } = options;
  const engine = x.engine;
  const method = options.method ?? convGradDefaults.method;
  const gemmOk = x.dtype === 'f32' && w.dtype === 'f32' && x.rank === 4 && w.rank === 4 && w.shape[2] === x.shape[3];
  if (gemmOk && method !== 'direct') {
    const [B, inH, inW, cin] = x.shape as [number, number, number, number];
    const [K, , , cout] = w.shape as [number, number, number, number];
    const up = upsample ? 2 : 1;
    const [H, W] = [inH * up, inW * up];
    const padBytes = B * (H + 2) * (W + 2) * cin * 4;
    const fits = K === 3 ? B * (H + 2) <= engine.device.limits.maxComputeWorkgroupsPerDimension && padBytes <= engine.device.limits.maxStorageBufferBindingSize : K === 1 && !upsample;
    // Where the GEMM reads x as vec4s and its 32-column blocks fill (Cin 3, the first conv, is
    // 2.6x slower through the GEMM).
    const wanted = method === 'gemm' || (gemmAdapter(engine).cpu && cout % 32 === 0 && cin % 4 === 0);
    if (fits && wanted && B * H * W * cout > 0) {
      if (K === 3) return conv3x3Padded(x, w, options);
      const x2 = x.reshape([B * H * W, cin]);
      const w2 = w.reshape([cin, cout]);
      const r2 = residual?.reshape([B * H * W, cout]);
      const flat = matmul(x2, w2, { ...(bias && { bias }), ...(r2 && { residual: r2 }) });
      for (const t of [x2, w2, r2]) t?.dispose();
      const out = flat.reshape([B, H, W, cout]);
      flat.dispose();
      return out;
    }
    if (method === 'gemm') throw new ShapeError(`conv2dForTraining: no GEMM path for a ${K}x${K} kernel${upsample ? ' through upsampling' : ''} of this size; use method 'direct'`);
  }
  return conv2d(x as Tensor<'f32'>, w as Tensor<'f32'>, {
    ...(bias && { bias: bias as Tensor<'f32'> }),
    ...(residual && { residual: residual as Tensor<'f32'> }),
    ...(upsample && { upsample: true }),
  });
}

/**
 * The method the conv gradients and conv2dForTraining use when none is given: 'auto'. For
 * benchmarks and comparisons (e.g. a whole training step through the direct kernels).
 */
export const convGradDefaults: { method: NonNullable<ConvGradOptions['method']> } = { method: 'auto' };

type GradPath = 'direct' | 'padded' | 'plain';

/**
 * How a conv gradient is computed. 'plain': a 1x1 conv without upsampling is a plain GEMM of
 * the images as [pixels, C] matrices; 'padded': a 3x3 conv's gradients as GEMMs over windows
 * of a padded copy (filterGradPadded, conv3x3Padded); 'direct': the conv kernels.
 * `method: 'auto'` takes a GEMM path on CPU adapters where the output channels fill the
 * GEMM's 32-column blocks (measured on lavapipe with `npm run bench -- --only train`: 1.2-2x
 * at the tokenizer's shapes) and the direct kernels on GPUs (the GEMM does not split its reduction axis, here up to millions of products per
 * output, so it would leave a GPU nearly idle).
 */
function gradPath(
  engine: Engine,
  method: ConvGradOptions['method'] = convGradDefaults.method,
  which: 'filter' | 'input',
  shape: { k: number; up: boolean; rows: number; bytes: number; cin: number; cout: number },
): GradPath {
  if (method === 'direct') return 'direct';
  const { k, up, rows, bytes, cin, cout } = shape;
  const limits = engine.device.limits;
  let path: GradPath | null = null;
  if (k === 1 && !up) path = 'plain';
  // The padded copy: rows + 3 grid rows of workgroups, about the image's size in memory.
  else if (k === 3 && rows + 3 <= limits.maxComputeWorkgroupsPerDimension && bytes <= limits.maxStorageBufferBindingSize) path = 'padded';
  if (method === 'gemm') {
    if (!path) throw new ShapeError(`conv gradient: no GEMM path for a ${k}x${k} kernel${up ? ' through upsampling' : ''} of this size; use method 'direct'`);
    return path;
  }
  if (!path || !gemmAdapter(engine).cpu) return 'direct';
  // The GEMM's output columns come in blocks of 32 (Cin for the input gradient, Cout for the
  // weight gradient): with fewer it costs as much as 32 (measured: dW of 32 -> 3 channels
  // 42.8 ms through the GEMM, 13.4 ms direct).
  if ((which === 'input' ? cin : cout) % 32 !== 0) return 'direct';
  return path;
}

function checkF32(op: string, ...tensors: Tensor[]): void {
  for (const t of tensors) {
    if (t.dtype !== 'f32') throw new ShapeError(`${op}: gradients are computed in f32, got a ${t.dtype} tensor; train in f32 (export to f16 afterwards)`);
  }
}

/**
 * The weight gradient of conv2d: dW[ky, kx, ci, co] = sum over every output pixel of
 * x[pixel + tap, ci] * dy[pixel, co], for `x` [B, H, W, Cin] (the forward input), `dy`
 * [B, H', W', Cout] (the output gradient; H' = 2H with upsampling) and a K x K kernel.
 * Returns [K, K, Cin, Cout] f32. Chunks of output rows are summed separately, then added in
 * a fixed order (deterministic).
 */
export function conv2dFilterGrad(x: Tensor, dy: Tensor, kernelSize: number, options: ConvGradOptions = {}): Tensor {
  const engine = x.engine;
  checkF32('conv2dFilterGrad', x, dy);
  if (x.rank !== 4 || dy.rank !== 4) throw new ShapeError(`conv2dFilterGrad: x and dy must be NHWC, got [${x.shape.join(', ')}] and [${dy.shape.join(', ')}]`);
  if (kernelSize !== 1 && kernelSize !== 3) throw new ShapeError(`conv2dFilterGrad: kernels must be 1x1 or 3x3, got ${kernelSize}x${kernelSize}`);
  const [B, H, W, cin] = x.shape as [number, number, number, number];
  const up = options.upsample ? 2 : 1;
  const [outH, outW, cout] = [H * up, W * up, dy.shape[3]!];
  if (dy.shape[0] !== B || dy.shape[1] !== outH || dy.shape[2] !== outW) {
    throw new ShapeError(`conv2dFilterGrad: dy must be [${B}, ${outH}, ${outW}, Cout] for x [${x.shape.join(', ')}]${up > 1 ? ' upsampled' : ''}, got [${dy.shape.join(', ')}]`);
  }
  const K = kernelSize;
  const outShape = [K, K, cin, cout];
  if (B * outH * outW === 0 || cin * cout === 0) return engine.zeros(outShape);
  const padBytes = (B * (outH + 2) + 3) * (outW + 2) * Math.max(cin, cout) * 4;
  const path = gradPath(engine, options.method, 'filter', { k: K, up: up > 1, rows: B * (outH + 2), bytes: padBytes, cin, cout });
  if (path === 'padded') return filterGradPadded(x, dy, up > 1);
  if (path === 'plain') {
    // dW = x^T @ dy over every pixel: [Cin, pixels] x [pixels, Cout].
    const cols = x.reshape([B * H * W, cin]);
    const dy2 = dy.reshape([B * outH * outW, cout]);
    const flat = matmul(cols, dy2, { transposeA: true, outDtype: 'f32' });
    cols.dispose();
    dy2.dispose();
    const out = flat.reshape(outShape);
    flat.dispose();
    return out;
  }
  const tile = filterTile(engine);
  const vec = cin % 4 === 0;
  const v = vec ? 4 : 1;
  const cinV = cin / v;
  const taps = K * K;
  const base = Math.ceil(cinV / tile.lanes) * Math.ceil(cout / tile.ct) * taps;
  const rows = B * outH;
  let rowsPerChunk = Math.ceil(rows / Math.min(rows, Math.max(1, Math.ceil(FILTER_TARGET_WORKGROUPS / base))));
  let chunks = Math.ceil(rows / rowsPerChunk);
  const maxZ = engine.device.limits.maxComputeWorkgroupsPerDimension;
  if (chunks * taps > maxZ) {
    chunks = Math.floor(maxZ / taps);
    rowsPerChunk = Math.ceil(rows / chunks);
    chunks = Math.ceil(rows / rowsPerChunk);
  }
  const partial = engine.empty([chunks, taps * cin * cout]);
  engine.run({
    kernel: CONV_GRAD,
    defines: {
      T: x.dtype,
      K,
      V: v,
      VEC: vec,
      LANES: tile.lanes,
      CT: tile.ct,
      SUBGROUP: tile.subgroup,
      FILTER: true,
      FLIP: false,
      WG: 0,
      ...filterPieces(tile, v),
    },
    params: [H, W, cin, cout, outH, outW, cinV, up - 1, rows, rowsPerChunk, 0, f32(1)],
    inputs: [x, dy],
    outputs: [partial],
    workgroups: [Math.ceil(cinV / tile.lanes), Math.ceil(cout / tile.ct), chunks * taps],
  });
  // Chunk sums added in a fixed order (with one chunk this is a reshape).
  const flat = sumTo(partial, [taps * cin * cout]);
  partial.dispose();
  const out = flat.reshape(outShape);
  flat.dispose();
  return out;
}

/**
 * w [K, K, Cin, Cout] flipped in space and transposed in channels, times `scale`:
 * wt[ky, kx, co, ci] = scale * w[K-1-ky, K-1-kx, ci, co] (the kernel of the transposed conv).
 */
export function flipKernel(w: Tensor, scale = 1): Tensor {
  const engine = w.engine;
  if (w.rank !== 4 || w.shape[0] !== w.shape[1]) throw new ShapeError(`flipKernel: w must be HWIO [K, K, Cin, Cout], got [${w.shape.join(', ')}]`);
  const [K, , cin, cout] = w.shape as [number, number, number, number];
  const out = engine.empty([K, K, cout, cin], w.dtype);
  if (out.size === 0) return out;
  engine.run({
    kernel: CONV_GRAD,
    defines: { T: w.dtype, K, V: 1, VEC: false, LANES: 0, CT: 0, SUBGROUP: false, FILTER: false, FLIP: true, WG: FLIP_WG, DECLARE: '', MAC: '', STORE: '' },
    params: [0, 0, cin, cout, 0, 0, 0, 0, 0, 0, out.size, f32(scale)],
    inputs: [w],
    outputs: [out],
    workgroups: engine.grid(Math.ceil(out.size / FLIP_WG)),
  });
  return out;
}

/**
 * The input gradient of conv2d (the transposed convolution): for stride 1 and SAME padding it
 * is conv2d of `dy` with the flipped, channel-transposed kernel; through an upsampling, each
 * input pixel also collects its 2x2 block (4 x the 2x2 average). Returns x's shape [B, H, W, Cin].
 */
export function conv2dInputGrad(dy: Tensor, w: Tensor, options: ConvGradOptions = {}): Tensor {
  checkF32('conv2dInputGrad', dy, w);
  if (dy.rank !== 4 || w.rank !== 4 || dy.shape[3] !== w.shape[3]) {
    throw new ShapeError(`conv2dInputGrad: dy [B, H, W, Cout] must end in the kernel's Cout, got dy [${dy.shape.join(', ')}] and w [${w.shape.join(', ')}]`);
  }
  const wt = flipKernel(w, options.upsample ? 4 : 1);
  const [B, outH, outW, cout] = dy.shape as [number, number, number, number];
  const [K, , cin] = w.shape as [number, number, number, number];
  let full: Tensor<'f32'>;
  const padBytes = (B * (outH + 2) + 3) * (outW + 2) * cout * 4;
  const path = dy.size > 0 && cin > 0 ? gradPath(dy.engine, options.method, 'input', { k: K, up: false, rows: B * (outH + 2), bytes: padBytes, cin, cout }) : 'direct';
  if (path === 'padded') {
    full = conv3x3Padded(dy, wt) as Tensor<'f32'>;
  } else if (path === 'plain') {
    // A 1x1 transposed conv: dy [pixels, Cout] @ wt [Cout, Cin].
    const cols = dy.reshape([B * outH * outW, cout]);
    const wt2 = wt.reshape([cout, cin]);
    const flat = matmul(cols, wt2);
    cols.dispose();
    wt2.dispose();
    full = flat.reshape([B, outH, outW, cin]) as Tensor<'f32'>;
    flat.dispose();
  } else {
    full = conv2d(dy as Tensor<'f32'>, wt as Tensor<'f32'>);
  }
  wt.dispose();
  if (!options.upsample) return full;
  const pooled = avgPool2x2(full);
  full.dispose();
  return pooled;
}

/** Sums [..., C] over every axis but the last -> [C] (bias gradients), in two parallel passes. */
export function sumToChannels(dy: Tensor): Tensor {
  const C = dy.shape[dy.rank - 1]!;
  const rows = dy.size / Math.max(C, 1);
  // Outer chunks reduced in parallel, then the chunk sums: a divisor of rows near sqrt(rows).
  let chunks = 1;
  for (let c = Math.min(256, Math.floor(Math.sqrt(rows))); c > 1; c--) {
    if (rows % c === 0) {
      chunks = c;
      break;
    }
  }
  if (chunks === 1) return sumTo(dy, [C]);
  const view = dy.reshape([chunks, rows / chunks, C]);
  const partial = sumTo(view, [chunks, 1, C]);
  view.dispose();
  const out = sumTo(partial, [C]);
  partial.dispose();
  return out;
}
