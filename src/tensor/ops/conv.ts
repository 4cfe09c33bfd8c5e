import conv2dSource from '../../../kernels/conv2d.wgsl';
import { ShapeError } from '../../errors.js';
import { f32, type Engine } from '../engine.js';
import { defineKernel } from '../kernel.js';
import type { Tensor } from '../tensor.js';
import type { PooledTexture } from '../texture-pool.js';

const CONV2D = defineKernel('conv2d', conv2dSource);

export type FloatDType = 'f32' | 'f16';

export interface Conv2dOptions<D extends FloatDType = FloatDType> {
  /** [Cout], added to every output pixel. */
  bias?: Tensor<D>;
  /** Shaped like the output; added after the bias (a fused residual connection). */
  residual?: Tensor<D>;
  /** Read the input through a nearest-neighbour x2 upsampling (the output is 2H x 2W). */
  upsample?: boolean;
  /** Clamp the result to [lo, hi] (after bias and residual). */
  clamp?: readonly [number, number];
}

/** How one conv2d dispatch is tiled. */
export interface ConvTile {
  /** Lanes per workgroup, along the output row (a multiple of sg on the subgroup path). */
  tx: number;
  /** Adjacent output pixels per lane. */
  pix: number;
  /** Subgroup path: the subgroup size the kernel is specialised to; 0 selects the portable path. */
  sg: number;
  /** Subgroup path: weights each lane loads per GEMM row (1, 2 or 4); the channel tile is sg * wpl. */
  wpl: number;
  /** Portable path: vec4 channel groups per lane; the channel tile is 4 * nv. */
  nv: number;
  /** Subgroup path with wpl 4: read x and w through textures (see textureLayout). */
  tex?: boolean;
}

/** The subgroup size every subgroup of this adapter has, or 0 when it may vary or there are no subgroups. */
export function fixedSubgroupSize(engine: Engine): number {
  const { subgroupMinSize, subgroupMaxSize } = engine.info;
  if (!engine.hasSubgroups || !subgroupMinSize || subgroupMinSize !== subgroupMaxSize) return 0;
  return subgroupMinSize;
}

/**
 * The one tiling heuristic for conv2d. A lane's register tile is pix pixels x (channel tile)
 * channels: more pixels per lane reuse each loaded weight more, a wider channel tile reuses
 * each loaded input more, within what registers hold (about 32 accumulators on CPU
 * adapters). Lanes cover the row, no more than it needs, in whole subgroups.
 */
export function convTile(engine: Engine, outW: number, cout: number, textures = false): ConvTile {
  const sg = fixedSubgroupSize(engine);
  const pix = 2;
  if (sg > 0 && sg <= 16) {
    // Each lane: 2 pixels x sg * wpl channels. Through textures (a texel fetch is a vector
    // load on CPU adapters) 4 channels per lane pay: 2 x 32 accumulators. From storage
    // buffers (a scalar load per lane and component) 2 per lane balance loads and registers.
    // Larger tiles compile several times slower (the tile is unrolled) for little gain.
    if (textures) return { tx: sg, pix, sg, wpl: 4, nv: 0, tex: true };
    const wpl = cout % 2 === 0 && cout > sg ? 2 : 1;
    return { tx: sg, pix, sg, wpl, nv: 0 };
  }
  const nv = cout > 4 ? 2 : 1;
  // Lanes: a power of two times 8, no more than the row needs (GPUs want wide workgroups).
  const tx = Math.min(64, 8 * 2 ** Math.ceil(Math.log2(Math.max(1, outW / pix / 8))));
  return { tx, pix, sg: 0, wpl: 1, nv };
}

/** The tiling conv2d uses for x [B, H, W, Cin] and a K x K kernel to Cout channels (output width outW). */
export function chooseConvTile(engine: Engine, dtype: FloatDType, xShape: readonly number[], k: number, cout: number, outW: number): ConvTile {
  return convTile(engine, outW, cout, texturesFit(engine, dtype, xShape, k, cout));
}

/**
 * Whether a conv can read through textures: the subgroup path, channel counts whose rows
 * of texels are whole multiples of 256 bytes (copyBufferToTexture's row alignment), and
 * sizes within the texture limits.
 */
function texturesFit(engine: Engine, dtype: FloatDType, shape: readonly number[], k: number, cout: number): boolean {
  const [B, H, W, cin] = shape as [number, number, number, number];
  const sg = fixedSubgroupSize(engine);
  const align = dtype === 'f32' ? 64 : 128; // channels per 256 bytes
  const { maxTextureDimension2D: max2, maxTextureDimension3D: max3 } = engine.device.limits;
  return (
    sg > 0 && sg <= 16 && cin % align === 0 && cout % align === 0 && cout >= 4 * sg &&
    cin / 4 <= max3 && W <= max3 && B * H <= max3 && cout / 4 <= max2 && k * k * cin <= max2
  );
}

type Generated = { DECLARE: string; COLUMNS: string; MAC: string; STORE: string };
const generated = new Map<string, Generated>();

/** The straight-line pieces of the conv2d kernel for one tiling (see kernels/conv2d.wgsl). */
function generate(tile: ConvTile, k: number, vecIn: boolean): Generated {
  const key = `${tile.pix},${tile.sg},${tile.wpl},${tile.nv},${k},${vecIn},${!!tile.tex}`;
  let pieces = generated.get(key);
  if (!pieces) generated.set(key, (pieces = writePieces(tile, k, vecIn)));
  return pieces;
}

function writePieces(tile: ConvTile, k: number, vecIn: boolean): Generated {
  const { pix, sg, wpl, nv } = tile;
  const subgroup = sg > 0;
  const ncol = pix + k - 1;
  const groups = subgroup ? sg : nv; // accumulator groups per pixel
  const acc = subgroup ? (wpl === 1 ? 'f32' : `vec${wpl}<f32>`) : 'vec4<f32>';
  const steps = vecIn ? ['.x', '.y', '.z', '.w'] : [''];
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const cells = range(pix).flatMap((px) => range(groups).map((g) => `${px}_${g}`));
  const DECLARE = cells.map((c) => `var a${c} = ${acc}(0.0);`).join('\n  ');
  const COLUMNS = range(ncol)
    .map((j) => `let col${j} = column(row_base, ox, ${j}u);\n    let ok${j} = inside(ox, ${j}u);`)
    .join('\n    ');
  const mac: string[] = [];
  mac.push(...range(ncol).map((j) => `let v${j} = select(XV(0.0), fetch(col${j}, row_base, ci), ok${j});`));
  mac.push(...cells.map((c) => `var t${c} = ${acc}(0.0);`));
  for (let kx = 0; kx < k; kx++) {
    steps.forEach((comp, q) => {
      const row = `kc + ${kx}u * p.cin + ${q}u`;
      const body: string[] = [];
      if (subgroup) {
        body.push(`let wl = weight_row(${row}, wcol);`);
        for (const s of range(sg)) {
          body.push(`let b${s} = subgroupBroadcast(wl, ${s}u);`);
          for (const px of range(pix)) body.push(`t${px}_${s} = fma(${acc}(f32(v${px + kx}${comp})), b${s}, t${px}_${s});`);
        }
      } else {
        for (const n of range(nv)) {
          body.push(`let w${n} = weight4(${row}, cv0 + ${n}u);`);
          for (const px of range(pix)) body.push(`t${px}_${n} = fma(vec4<f32>(f32(v${px + kx}${comp})), w${n}, t${px}_${n});`);
        }
      }
      mac.push(`{\n        ${body.join('\n        ')}\n      }`);
    });
  }
  mac.push(...cells.map((c) => `a${c} += t${c};`));
  const store: string[] = [];
  for (const px of range(pix)) {
    for (const g of range(groups)) {
      const width = subgroup ? wpl : 4;
      for (const j of range(width)) {
        const comp = width === 1 ? '' : `[${j}]`;
        store.push(`store(ox + ${px}u, row, c0 + ${g * width + j}u, a${px}_${g}${comp});`);
      }
    }
  }
  return { DECLARE, COLUMNS, MAC: mac.join('\n      '), STORE: store.join('\n  ') };
}

/**
 * 2-D convolution of NHWC `x` [B, H, W, Cin] with HWIO `w` [K, K, Cin, Cout] (K = 1 or 3),
 * stride 1, SAME padding, f32 accumulation; storage dtype of x (f32 or f16, all operands
 * alike). Returns [B, H, W, Cout] ([B, 2H, 2W, Cout] with `upsample`).
 */
export function conv2d<D extends FloatDType>(x: Tensor<D>, w: Tensor<D>, options: Conv2dOptions<D> = {}, tile?: ConvTile): Tensor<D> {
  const engine = x.engine;
  if (x.rank !== 4) throw new ShapeError(`conv2d: x must be NHWC [B, H, W, Cin], got [${x.shape.join(', ')}]`);
  if (w.rank !== 4) throw new ShapeError(`conv2d: w must be HWIO [K, K, Cin, Cout], got [${w.shape.join(', ')}]`);
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new ShapeError(`conv2d: x must be f32 or f16, got ${x.dtype}`);
  const [B, H, W, cin] = x.shape as [number, number, number, number];
  const [kh, kw, wcin, cout] = w.shape as [number, number, number, number];
  if (kh !== kw || (kh !== 1 && kh !== 3)) throw new ShapeError(`conv2d: kernels must be 1x1 or 3x3, got ${kh}x${kw}`);
  if (wcin !== cin) throw new ShapeError(`conv2d: w has ${wcin} input channels but x has ${cin}; pass a kernel [${kh}, ${kw}, ${cin}, Cout]`);
  for (const [name, t] of [['w', w], ['bias', options.bias], ['residual', options.residual]] as const) {
    if (t && t.dtype !== x.dtype) throw new ShapeError(`conv2d: ${name} is ${t.dtype} but x is ${x.dtype}; cast it first`);
  }
  const up = options.upsample ? 2 : 1;
  const [outH, outW] = [H * up, W * up];
  const outShape = [B, outH, outW, cout];
  if (options.bias && (options.bias.rank !== 1 || options.bias.shape[0] !== cout)) {
    throw new ShapeError(`conv2d: bias must be [${cout}], got [${options.bias.shape.join(', ')}]`);
  }
  if (options.residual && options.residual.shape.join() !== outShape.join()) {
    throw new ShapeError(`conv2d: residual must be shaped like the output [${outShape.join(', ')}], got [${options.residual.shape.join(', ')}]`);
  }
  const out = engine.empty(outShape, x.dtype);
  if (out.size === 0) return out;
  if (B * outH > engine.device.limits.maxComputeWorkgroupsPerDimension) {
    throw new ShapeError(`conv2d: batch x height ${B * outH} exceeds ${engine.device.limits.maxComputeWorkgroupsPerDimension}; split the batch`);
  }
  const t = tile ?? chooseConvTile(engine, x.dtype, x.shape, kh, cout, outW);
  const subgroup = t.sg > 0;
  if (subgroup && (t.tx % t.sg !== 0 || cout % t.wpl !== 0)) throw new ShapeError(`conv2d: tile ${JSON.stringify(t)} does not fit Cout ${cout}`);
  const tex = !!t.tex;
  if (tex && (t.wpl !== 4 || !texturesFit(engine, x.dtype, x.shape, kh, cout))) throw new ShapeError(`conv2d: tile ${JSON.stringify(t)} cannot read these shapes through textures`);
  const vecIn = cin % 4 === 0;
  const vecW = cout % 4 === 0;
  const ctile = subgroup ? t.sg * t.wpl : 4 * t.nv;
  const coutV = subgroup ? cout / t.wpl : Math.ceil(cout / 4);
  const wf = subgroup && t.wpl > 1 ? `vec${t.wpl}<f32>` : 'f32';
  const wv = subgroup ? (t.wpl === 1 ? x.dtype : `vec${t.wpl}<${x.dtype}>`) : vecW ? `vec4<${x.dtype}>` : x.dtype;
  const [lo, hi] = options.clamp ?? [-Infinity, Infinity];
  // Absent bias / residual bind another read-only operand in their place (never read).
  const stand = tex ? w : x;
  const operands = [options.bias ?? stand, options.residual ?? stand];
  let textures: PooledTexture[] = [];
  if (tex) {
    const format = x.dtype === 'f32' ? 'rgba32float' : 'rgba16float';
    const texel = x.dtype === 'f32' ? 16 : 8;
    const xs: [number, number, number] = [cin / 4, W, B * H];
    const ws: [number, number, number] = [cout / 4, kh * kh * cin, 1];
    textures = [engine.textures.acquire({ format, dimension: '3d', size: xs }), engine.textures.acquire({ format, dimension: '2d', size: ws })];
    engine.copyToTexture(x, textures[0]!.texture, { bytesPerRow: xs[0] * texel, rowsPerImage: W }, xs);
    engine.copyToTexture(w, textures[1]!.texture, { bytesPerRow: ws[0] * texel, rowsPerImage: ws[1] }, ws);
  }
  engine.run({
    kernel: CONV2D,
    defines: {
      T: x.dtype,
      TX: t.tx,
      PIX: t.pix,
      K: kh,
      VEC_IN: vecIn,
      TEX: tex,
      SUBGROUP: subgroup,
      PORTABLE: !subgroup,
      SG: t.sg,
      NV: t.nv,
      CTILE: ctile,
      WV: wv,
      WF: wf,
      VEC_W: vecW,
      ...generate(t, kh, vecIn),
    },
    params: [H, W, cin, cout, outH, outW, vecIn ? cin / 4 : cin, coutV, up - 1, options.bias ? 1 : 0, options.residual ? 1 : 0, f32(lo), f32(hi)],
    inputs: tex ? operands : [x, w, ...operands],
    textures: textures.map((p) => p.view),
    outputs: [out],
    workgroups: [Math.ceil(outW / (t.tx * t.pix)), B * outH, Math.ceil(cout / ctile)],
  });
  // Recorded: the next user's copy into these textures runs after this dispatch.
  for (const p of textures) engine.textures.release(p);
  return out;
}
