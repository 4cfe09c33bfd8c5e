// Vector quantization against a codebook [K, D].
// NEAREST: tokens[n] = argmin over k of |a_n|^2 - 2 a_n . b_k + |b_k|^2 (ties: the lowest k),
//   the distance as the official tokenizer writes it, in f32. Grid: ceil(N / P); a workgroup
//   takes P latent vectors, each lane scans codes lid, lid + WG, ... keeping its best per
//   vector, then the lanes reduce: subgroupMin where the adapter has subgroups (one
//   barrier), a tree in workgroup memory otherwise.
// LOOKUP: latents[n] = codebook[tokens[n]] (ids clamped into [0, K)). Grid: N; lanes over D/V.
// Defines: T (storage type), VEC (D % 4 == 0), WG, P, RED (= P * WG), NEAREST / LOOKUP,
// SUBGROUPS.

#if ${VEC}
alias XV = vec4<${T}>;
alias FV = vec4<f32>;
#else
alias XV = ${T};
alias FV = f32;
#endif

struct Params {
  n: u32,   // latent vectors
  k: u32,   // codebook rows
  dv: u32,  // D / V
}

@group(0) @binding(0) var<uniform> p: Params;

fn dot_v(u: FV, v: FV) -> f32 {
#if ${VEC}
  return dot(u, v);
#else
  return u * v;
#endif
}

#if ${NEAREST}
@group(0) @binding(1) var<storage, read> a: array<XV>;
@group(0) @binding(2) var<storage, read> codebook: array<XV>;
@group(0) @binding(3) var<storage, read_write> tokens: array<i32>;

var<workgroup> red_d: array<f32, ${RED}>;
var<workgroup> red_i: array<u32, ${RED}>;

// (d, i) is better than (e, j): smaller distance, or the same distance and a lower index.
fn better(d: f32, i: u32, e: f32, j: u32) -> bool {
  return d < e || (d == e && i < j);
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>
#if ${SUBGROUPS}
        , @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sg_size: u32
#endif
        ) {
  let n0 = wid.x * ${P}u;
  var a_norm: array<f32, ${P}>;
  var best_d: array<f32, ${P}>;
  var best_i: array<u32, ${P}>;
  for (var q = 0u; q < ${P}u; q++) {
    let row = min(n0 + q, p.n - 1u) * p.dv;
    var s = 0.0;
    for (var d = 0u; d < p.dv; d++) {
      let v = FV(a[row + d]);
      s += dot_v(v, v);
    }
    a_norm[q] = s;
    best_d[q] = 3.4028234663852886e38;
    best_i[q] = 0xffffffffu;
  }
  for (var k = lid.x; k < p.k; k += ${WG}u) {
    var dots: array<f32, ${P}>;
    for (var q = 0u; q < ${P}u; q++) {
      dots[q] = 0.0;
    }
    var b_norm = 0.0;
    for (var d = 0u; d < p.dv; d++) {
      let b = FV(codebook[k * p.dv + d]);
      b_norm += dot_v(b, b);
      for (var q = 0u; q < ${P}u; q++) {
        dots[q] += dot_v(FV(a[min(n0 + q, p.n - 1u) * p.dv + d]), b);
      }
    }
    for (var q = 0u; q < ${P}u; q++) {
      let dist = (a_norm[q] + b_norm) - 2.0 * dots[q];
      if (dist < best_d[q]) {  // k increases: strict < keeps the lowest index on ties
        best_d[q] = dist;
        best_i[q] = k;
      }
    }
  }
#if ${SUBGROUPS}
  // Subgroup minimum, then the lowest index among the lanes holding it.
  for (var q = 0u; q < ${P}u; q++) {
    let m = subgroupMin(best_d[q]);
    let i = subgroupMin(select(0xffffffffu, best_i[q], best_d[q] == m));
    if (lane == 0u) {
      red_d[q * ${WG}u + lid.x / sg_size] = m;
      red_i[q * ${WG}u + lid.x / sg_size] = i;
    }
  }
  workgroupBarrier();
  if (lid.x < ${P}u) {
    let q = lid.x;
    var d = red_d[q * ${WG}u];
    var i = red_i[q * ${WG}u];
    for (var s = 1u; s < ${WG}u / sg_size; s++) {
      let e = red_d[q * ${WG}u + s];
      let j = red_i[q * ${WG}u + s];
      if (better(e, j, d, i)) {
        d = e;
        i = j;
      }
    }
    if (n0 + q < p.n) {
      tokens[n0 + q] = i32(i);
    }
  }
#else
  for (var q = 0u; q < ${P}u; q++) {
    red_d[q * ${WG}u + lid.x] = best_d[q];
    red_i[q * ${WG}u + lid.x] = best_i[q];
  }
  workgroupBarrier();
  for (var s = ${WG}u / 2u; s > 0u; s = s / 2u) {
    if (lid.x < s) {
      for (var q = 0u; q < ${P}u; q++) {
        let here = q * ${WG}u + lid.x;
        let there = here + s;
        if (better(red_d[there], red_i[there], red_d[here], red_i[here])) {
          red_d[here] = red_d[there];
          red_i[here] = red_i[there];
        }
      }
    }
    workgroupBarrier();
  }
  if (lid.x < ${P}u && n0 + lid.x < p.n) {
    tokens[n0 + lid.x] = i32(red_i[lid.x * ${WG}u]);
  }
#endif
}
#endif

#if ${LOOKUP}
@group(0) @binding(1) var<storage, read> tokens: array<i32>;
@group(0) @binding(2) var<storage, read> codebook: array<XV>;
@group(0) @binding(3) var<storage, read_write> out: array<XV>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = wid.x + wid.y * nwg.x;
  if (n >= p.n) {
    return;
  }
  let row = u32(clamp(tokens[n], 0, i32(p.k) - 1));
  for (var d = lid.x; d < p.dv; d += ${WG}u) {
    out[n * p.dv + d] = codebook[row * p.dv + d];
  }
}
#endif
