import convGradSource from '../../../kernels/conv2d_grad.wgsl';
import { ShapeError } from '../../errors.js';
import { f32, type Engine } from '../engine.js';
import { defineKernel } from '../kernel.js';
import type { Tensor } from '../tensor.js';
import { conv2d, fixedSubgroupSize } from './conv.js';
import { sumTo } from './reduce.js';
import { avgPool2x2 } from './resample.js';

const CONV_GRAD = defineKernel('conv2d_grad', convGradSource);
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
  const full = conv2d(dy as Tensor<'f32'>, wt as Tensor<'f32'>);
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
