// Gradients of conv2d (kernels/conv2d.wgsl: NHWC x [B, inH, inW, Cin], HWIO w [K, K, Cin, Cout],
// stride 1, SAME padding, optionally reading x through a nearest x2 upsampling).
//
// FILTER: the weight gradient, a correlation of the input with the output gradient summed
//   over every output pixel (a GEMM A^T B with A the unfolded input, B = dy, reduced over
//   B * H * W). Split over chunks of output rows so that there is enough parallel work, each
//   chunk writing its own partial sums (the host sums them; no float atomics, and the result
//   does not depend on scheduling):
//     partial[chunk, (ky*K + kx)*Cin + ci, co] = sum over pixels (b, oy, ox) of the chunk of
//       x[b, (oy + ky - P) >> up, (ox + kx - P) >> up, ci] * dy[b, oy, ox, co]
//   Grid: x = input-channel tiles (a lane owns V = 4 channels when Cin % 4 == 0, else one),
//   y = output-channel tiles of CT channels, z = taps * chunks. Per tap the pixel loop runs
//   only over the columns and rows whose tap lies inside the image, so the loop has no
//   padding tests. Every lane needs the same dy values: on the SUBGROUP path lane l loads
//   dy[pixel, co0 + l] and subgroupBroadcast hands it to all lanes (CT = the subgroup size);
//   the PORTABLE path loads them in every lane. Two pixels per iteration, their products
//   summed before the one update of the loop-carried accumulators (a masked store each on
//   CPU adapters).
// FLIP: the input gradient of a stride-1 SAME conv is the same conv of dy with the kernel
//   flipped in space and transposed in channels: wt[ky, kx, co, ci] = scale * w[K-1-ky, K-1-kx, ci, co].
//   (With upsampling the host also sums 2x2 blocks: scale 4 then 2x2 average pooling.)
// Defines: T (storage type), K, V (1 or 4) and VEC (V == 4), LANES, CT, SUBGROUP, FILTER / FLIP, WG (FLIP),
// and the generated DECLARE, MAC, STORE of FILTER.

struct Params {
  in_h: u32, in_w: u32, cin: u32, cout: u32,
  out_h: u32, out_w: u32, cin_v: u32, up: u32,   // cin_v = Cin / V; up = 1 when reading through x2 upsampling
  rows: u32, rows_per_chunk: u32, n: u32, scale: f32,  // rows = B * out_h; n = elements (FLIP)
}

@group(0) @binding(0) var<uniform> p: Params;

const PAD: i32 = ${K} / 2;

#if ${FILTER}
#if ${VEC}
alias XV = vec4<${T}>;
alias FV = vec4<f32>;
#else
alias XV = ${T};
alias FV = f32;
#endif

@group(0) @binding(1) var<storage, read> x: array<XV>;
@group(0) @binding(2) var<storage, read> dy: array<${T}>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

// Lane co of the tile: dy[pixel, co] (clamped into the row; the extra columns are not stored).
fn dy_at(pixel: u32, co: u32) -> f32 {
  return f32(dy[pixel * p.cout + min(co, p.cout - 1u)]);
}

@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>
#if ${SUBGROUP}
        , @builtin(subgroup_invocation_id) lane: u32
#endif
        ) {
  let taps = u32(${K} * ${K});
  let tap = wid.z % taps;  // uniform per workgroup
  let chunk = wid.z / taps;
  let ky = i32(tap / u32(${K}));
  let kx = i32(tap % u32(${K}));
  let cvi = wid.x * ${LANES}u + lid.x;
  let cl = min(cvi, p.cin_v - 1u);  // clamped for loads; stores are masked
  let co0 = wid.y * ${CT}u;
#if ${SUBGROUP}
  let lane_co = co0 + lane;  // the dy column this lane loads for the subgroup
#endif
  // Output columns whose tap column ox + kx - P lies inside the (upsampled) input.
  let lo = u32(max(PAD - kx, 0));
  let hi = u32(min(i32(p.out_w), i32(p.out_w) + PAD - kx));
  let r0 = chunk * p.rows_per_chunk;
  let r1 = min(r0 + p.rows_per_chunk, p.rows);
  ${DECLARE}
  for (var r = r0; r < r1; r++) {
    let b = r / p.out_h;  // uniform: one scalar division per row
    let oy = r - b * p.out_h;
    let iy = i32(oy) + ky - PAD;
    if (iy < 0 || iy >= i32(p.out_h)) {
      continue;  // uniform: the tap row is padding
    }
    let xrow = (b * p.in_h + (u32(iy) >> p.up)) * p.in_w;
    let dyrow = r * p.out_w;
    for (var ox = lo; ox < hi; ox += 2u) {
      let ok1 = ox + 1u < hi;
      let ox1 = select(ox, ox + 1u, ok1);
      let x0 = FV(x[(xrow + (u32(i32(ox) + kx - PAD) >> p.up)) * p.cin_v + cl]);
      let x1 = select(FV(0.0), FV(x[(xrow + (u32(i32(ox1) + kx - PAD) >> p.up)) * p.cin_v + cl]), ok1);
      let pix0 = dyrow + ox;
      let pix1 = dyrow + ox1;
      ${MAC}
    }
  }
  if (cvi < p.cin_v) {
    let row0 = (chunk * taps + tap) * p.cin + cvi * ${V}u;
    ${STORE}
  }
}
#endif

#if ${FLIP}
@group(0) @binding(1) var<storage, read> w: array<${T}>;
@group(0) @binding(2) var<storage, read_write> wt: array<${T}>;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // One output element per invocation: wt[tap, co, ci] from w[K*K-1-tap, ci, co].
  let i = gid.x + gid.y * nwg.x * ${WG}u;
  if (i >= p.n) {
    return;
  }
  let ci = i % p.cin;
  let rest = i / p.cin;
  let co = rest % p.cout;
  let tap = rest / p.cout;
  let src = ((u32(${K} * ${K}) - 1u - tap) * p.cin + ci) * p.cout + co;
  wt[i] = ${T}(f32(w[src]) * p.scale);
}
#endif
