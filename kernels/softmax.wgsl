// Softmax over the last axis, numerically stable: out = exp(x - max) / sum(exp(x - max)).
// One workgroup per row: a pass for the max, one that stores exp(x - max) and sums it, one
// that rescales what it stored (each exp is computed once). Needs the workgroup-reduce snippet (prepended by the TS op).
// Defines: T (storage), WG, ONE_SUBGROUP.

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read_write> out: array<${T}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  wr_init(lid);
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) {
    return;  // uniform per workgroup
  }
  let base = row * p.cols;
  var m = -3.4028234663852886e38;
  for (var c = lid; c < p.cols; c += ${WG}u) {
    m = max(m, f32(x[base + c]));
  }
  m = wg_max(m);
  var s = 0.0;
  for (var c = lid; c < p.cols; c += ${WG}u) {
    let e = exp(f32(x[base + c]) - m);
    out[base + c] = ${T}(e);
    s += e;
  }
  let inv = 1.0 / wg_sum(s);
  // Each invocation rescales the elements it wrote itself: no barrier needed.
  for (var c = lid; c < p.cols; c += ${WG}u) {
    out[base + c] = ${T}(f32(out[base + c]) * inv);
  }
}
