// LayerNorm over the last axis: out = (x - mean) / sqrt(var + eps) * scale + bias.
// One workgroup per row. Two passes in f32 (mean first, then the mean of squared deviations),
// so the variance does not cancel catastrophically when |mean| >> std and eps is tiny (1e-12).
// The row is read three times; the second and third reads hit the cache.
// Needs the workgroup-reduce snippet (prepended by the TS op).
// Defines: T (x/out storage), P (scale/bias storage), V (1 or 4 elements per access), WG,
// ONE_SUBGROUP.

#if ${V4}
alias XV = vec4<${T}>;
alias PV = vec4<${P}>;
alias FV = vec4<f32>;
#else
alias XV = ${T};
alias PV = ${P};
alias FV = f32;
#endif

struct Params {
  rows: u32,
  cols: u32,  // in units of XV
  n: f32,     // elements per row
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<XV>;
@group(0) @binding(2) var<storage, read> scale: array<PV>;
@group(0) @binding(3) var<storage, read> bias: array<PV>;
@group(0) @binding(4) var<storage, read_write> out: array<XV>;

fn hsum(v: FV) -> f32 {
#if ${V4}
  return v.x + v.y + v.z + v.w;
#else
  return v;
#endif
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  wr_init(lid);
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) {
    return;  // uniform per workgroup
  }
  let base = row * p.cols;
  var acc = FV(0.0);
  for (var c = lid; c < p.cols; c += ${WG}u) {
    acc += FV(x[base + c]);
  }
  let mean = wg_sum(hsum(acc)) / p.n;
  var dev = FV(0.0);
  for (var c = lid; c < p.cols; c += ${WG}u) {
    let d = FV(x[base + c]) - mean;
    dev = fma(d, d, dev);
  }
  let variance = wg_sum(hsum(dev)) / p.n;
  let inv = 1.0 / sqrt(variance + p.eps);  // not inverseSqrt: some adapters approximate it
  for (var c = lid; c < p.cols; c += ${WG}u) {
    let y = (FV(x[base + c]) - mean) * inv;
    out[base + c] = XV(fma(y, FV(scale[c]), FV(bias[c])));
  }
}
