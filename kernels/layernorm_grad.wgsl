// The backward of LayerNorm over the last axis (kernels/layernorm.wgsl), y = xhat * scale + bias
// with xhat = (x - mean) * rstd, for the output gradient g:
//   dx = rstd * (g*scale - mean(g*scale) - xhat * mean(g*scale * xhat))     (per row)
//   dscale = sum over rows of g * xhat;  dbias = sum over rows of g          (per column)
// Two passes selected by a define:
// - IS_ROWS: one workgroup per row (the workgroup-reduce snippet is prepended). The statistics
//   are recomputed from x exactly as the forward computes them (two passes in f32), dx is
//   written, and the row's (mean, rstd) go to `stats` for the second pass.
// - IS_PARAMS: grid (ceil(cols / WG), chunks); invocation (c, k) sums g * xhat and g over the
//   rows of chunk k for column c -> partial [2, chunks, cols] (summed over chunks by the op), so
//   the column sums need no atomics and are the same on every run.
// f32 storage (training precision). Defines: V4 (IS_ROWS only), WG, ONE_SUBGROUP (IS_ROWS),
// IS_ROWS, IS_PARAMS.

#if ${V4}
alias FV = vec4<f32>;
#else
alias FV = f32;
#endif

struct Params {
  rows: u32,
  cols: u32,   // in units of FV for IS_ROWS, of f32 for IS_PARAMS
  n: f32,      // elements per row
  eps: f32,
  chunk: u32,  // rows per chunk (IS_PARAMS)
}

@group(0) @binding(0) var<uniform> p: Params;

#if ${IS_ROWS}
@group(0) @binding(1) var<storage, read> x: array<FV>;
@group(0) @binding(2) var<storage, read> g: array<FV>;
@group(0) @binding(3) var<storage, read> scale: array<FV>;
@group(0) @binding(4) var<storage, read_write> dx: array<FV>;
@group(0) @binding(5) var<storage, read_write> stats: array<vec2<f32>>;

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
    acc += x[base + c];
  }
  let mean = wg_sum(hsum(acc)) / p.n;
  var dev = FV(0.0);
  for (var c = lid; c < p.cols; c += ${WG}u) {
    let d = x[base + c] - mean;
    dev = fma(d, d, dev);
  }
  let variance = wg_sum(hsum(dev)) / p.n;
  let rstd = 1.0 / sqrt(variance + p.eps);
  var s1 = FV(0.0);
  var s2 = FV(0.0);
  for (var c = lid; c < p.cols; c += ${WG}u) {
    let gs = g[base + c] * scale[c];
    s1 += gs;
    s2 = fma(gs, (x[base + c] - mean) * rstd, s2);
  }
  let m1 = wg_sum(hsum(s1)) / p.n;
  let m2 = wg_sum(hsum(s2)) / p.n;
  for (var c = lid; c < p.cols; c += ${WG}u) {
    let xhat = (x[base + c] - mean) * rstd;
    dx[base + c] = rstd * (g[base + c] * scale[c] - m1 - xhat * m2);
  }
  if (lid == 0u) {
    stats[row] = vec2<f32>(mean, rstd);
  }
}
#endif

#if ${IS_PARAMS}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x;
  let k = gid.y;
  if (c >= p.cols) {
    return;
  }
  let first = k * p.chunk;
  let last = min(first + p.chunk, p.rows);
  var ds = 0.0;
  var db = 0.0;
  for (var r = first; r < last; r++) {
    let st = stats[r];
    let gi = g[r * p.cols + c];
    ds = fma(gi, (x[r * p.cols + c] - st.x) * st.y, ds);
    db += gi;
  }
  let chunks = nwg.y;
  partial[k * p.cols + c] = ds;
  partial[(chunks + k) * p.cols + c] = db;
}
#endif
