// 2-D convolution, NHWC, stride 1, SAME padding, as an implicit GEMM: out[pixel, cout] =
// sum over (ky, kx, cin) of x[pixel + tap, cin] * w[ky, kx, cin, cout] (HWIO weights, which
// flattened are the [K*K*Cin, Cout] B matrix). Nothing is unfolded into memory.
//
// Grid: x = column tiles of TX*PIX output pixels, y = output rows (b * H + oy), z = output
// channel tiles. A lane owns PIX adjacent output pixels of one row, so pixel coordinates come
// from ids without division and a tap row's padding check is uniform per workgroup. Per input
// channel group a lane loads the PIX + K - 1 input vectors its pixels need and reuses each
// for up to K taps and every channel of the tile; accumulation is in f32.
//
// Two ways to get the weights to the lanes (every lane needs the same ones):
// - SUBGROUP (subgroups of exactly SG lanes): lane l loads WPL weights of channels
//   c0 + l*WPL .. of a GEMM row and subgroupBroadcast hands each lane's load to all lanes:
//   one memory access per weight instead of one per lane (CPU adapters turn every
//   non-constant address into per-lane scalar loads; a broadcast is a register splat).
//   The channel tile is SG * WPL.
// - PORTABLE: each lane loads the tile's weights itself as vec4s; the channel tile is 4 * NV.
//
// The register tile is written out by the host (src/tensor/ops/conv.ts) as straight-line
// code in named variables: subgroupBroadcast needs a constant lane, and a compiler that
// does not unroll every loop would otherwise index the accumulators dynamically, which
// moves them to memory. Generated pieces: DECLARE (accumulators), COLUMNS (clamped input
// column offsets and validity per tap row), MAC (one input channel group: loads, products
// into per-group partial sums, then one update of the accumulators, since on CPU adapters
// every update of a loop-carried value is a masked store), STORE (the epilogue calls).
//
// Defines: T (storage type), TX, PIX, K (1 or 3), VEC_IN (Cin % 4 == 0: vec4 input loads),
// TEX (subgroup path, WPL = 4: x and w are read through textures, see above), SUBGROUP /
// PORTABLE, WV / WF (the weight load type in storage / in f32), VEC_W (Cout % 4 == 0: the portable path
// loads weights as vec4), and the generated
// DECLARE, COLUMNS, MAC, STORE. Upsampling, bias, residual and clamp are run-time params:
// they cost a shift or a uniform branch, and keep the number of compiled variants small.

#if ${TEX}
alias XV = vec4<f32>;
#elif ${VEC_IN}
alias XV = vec4<${T}>;
#else
alias XV = ${T};
#endif

const PAD: i32 = ${K} / 2;

struct Params {
  in_h: u32, in_w: u32, cin: u32, cout: u32,  // input size (before upsampling), channels
  out_h: u32, out_w: u32, cin_v: u32, cout_v: u32,  // output size; Cin in units of XV, Cout in units of WV (portable: vec4)
  up: u32,  // 1: read the input through a nearest x2 upsampling (coordinates >> 1), else 0
  has_bias: u32, has_res: u32,
  lo: f32, hi: f32,  // the output is clamped to [lo, hi] (infinite when not asked for)
}

@group(0) @binding(0) var<uniform> p: Params;
#if ${TEX}
// Inputs through the texture units: x as a 3-D texture [Cin/4, W, B*H] of texels of 4
// channels, the weights as a 2-D texture [Cout/4, K*K*Cin] (WPL = 4: a texel per lane).
@group(0) @binding(3) var xt: texture_3d<f32>;
@group(0) @binding(4) var wt: texture_2d<f32>;
@group(0) @binding(1) var<storage, read> bias: array<${T}>;  // w when there is no bias
@group(0) @binding(2) var<storage, read> res: array<${T}>;   // w when there is no residual
#else
@group(0) @binding(1) var<storage, read> x: array<XV>;
@group(0) @binding(2) var<storage, read> w: array<${WV}>;
@group(0) @binding(3) var<storage, read> bias: array<${T}>;  // x when there is no bias
@group(0) @binding(4) var<storage, read> res: array<${T}>;   // x when there is no residual
#endif
@group(0) @binding(5) var<storage, read_write> out: array<${T}>;

// The epilogue for one output value: bias, residual, clamp, store (skipped past the row or
// past the last channel).
fn store(ox: u32, row: u32, c: u32, value: f32) {
  if (ox >= p.out_w || c >= p.cout) {
    return;
  }
  let pixel = row * p.out_w + ox;
  var s = value;
  if (p.has_bias != 0u) {
    s += f32(bias[c]);
  }
  if (p.has_res != 0u) {
    s += f32(res[pixel * p.cout + c]);
  }
  out[pixel * p.cout + c] = ${T}(clamp(s, p.lo, p.hi));
}

// Where input column ox + j - PAD of a tap row is (clamped into the image): for buffers the
// element offset of its first channel group, for textures its x coordinate.
fn column(row_base: u32, ox: u32, j: u32) -> u32 {
  let ix = u32(clamp(i32(ox + j) - PAD, 0, i32(p.out_w) - 1)) >> p.up;
#if ${TEX}
  return ix;
#else
  return (row_base + ix) * p.cin_v;
#endif
}

// The tap row's base: the first pixel's offset (buffers) or its texture depth coordinate.
fn tap_row(b: u32, iy: u32) -> u32 {
#if ${TEX}
  return b * p.in_h + (iy >> p.up);
#else
  return (b * p.in_h + (iy >> p.up)) * p.in_w;
#endif
}

// Channel group ci of a column.
fn fetch(col: u32, row_base: u32, ci: u32) -> XV {
#if ${TEX}
  return textureLoad(xt, vec3<u32>(ci, col, row_base), 0);
#else
  return x[col + ci];
#endif
}

fn inside(ox: u32, j: u32) -> bool {
  let ix = i32(ox + j) - PAD;
  return ix >= 0 && ix < i32(p.out_w);
}

#if ${SUBGROUP}
// This lane's weights of GEMM row k (k = (ky * K + kx) * Cin + cin): WPL channels from wcol * WPL.
fn weight_row(k: u32, wcol: u32) -> ${WF} {
#if ${TEX}
  return textureLoad(wt, vec2<u32>(wcol, k), 0);
#else
  return ${WF}(w[k * p.cout_v + wcol]);
#endif
}
#endif

#if ${PORTABLE}
// Portable path: weights of GEMM row k for output channels 4*cv .. 4*cv+3.
fn weight4(k: u32, cv: u32) -> vec4<f32> {
#if ${VEC_W}
  return vec4<f32>(w[k * p.cout_v + min(cv, p.cout_v - 1u)]);  // clamped on a partial tile
#else
  let base = k * p.cout;
  let c = cv * 4u;
  let last = p.cout - 1u;
  return vec4<f32>(
    f32(w[base + min(c, last)]) * f32(c < p.cout),
    f32(w[base + min(c + 1u, last)]) * f32(c + 1u < p.cout),
    f32(w[base + min(c + 2u, last)]) * f32(c + 2u < p.cout),
    f32(w[base + min(c + 3u, last)]) * f32(c + 3u < p.cout));
#endif
}
#endif

@compute @workgroup_size(${TX})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>
#if ${SUBGROUP}
        , @builtin(subgroup_invocation_id) lane: u32
#endif
        ) {
  let row = wid.y;  // b * out_h + oy
  let b = row / p.out_h;  // uniform: one scalar division per workgroup
  let oy = row - b * p.out_h;
  let ox = (wid.x * ${TX}u + lid.x) * ${PIX}u;
#if ${SUBGROUP}
  let c0 = wid.z * ${CTILE}u;  // first output channel of the tile
  // This lane's weight column (in units of WV), clamped into the row on a partial tile.
  let wcol = min(wid.z * ${SG}u + lane, p.cout_v - 1u);
#else
  let c0 = wid.z * ${CTILE}u;
  let cv0 = wid.z * ${NV}u;
#endif
  ${DECLARE}

  for (var ky = 0u; ky < ${K}u; ky++) {
    let iy = i32(oy) + i32(ky) - PAD;
    if (iy < 0 || iy >= i32(p.out_h)) {
      continue;  // uniform: the whole tap row is padding
    }
    let row_base = tap_row(b, u32(iy));
    // Padding checks hoisted out of the channel loop.
    ${COLUMNS}
    let krow = ky * ${K}u * p.cin;
    for (var ci = 0u; ci < p.cin_v; ci++) {
#if ${VEC_IN}
      let kc = krow + ci * 4u;
#else
      let kc = krow + ci;
#endif
      ${MAC}
    }
  }
  ${STORE}
}
