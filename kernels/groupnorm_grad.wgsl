// The backward pass of GroupNorm (+ optional swish) over NHWC [B, H*W, C] (kernels/groupnorm.wgsl),
// from the forward's statistics (mean, rstd) per (b, group). With y = xhat * scale + bias,
// xhat = (x - mean) * rstd and g = dL/dy (times swish'(y) = s(y) (1 + y (1 - s(y))) when SWISH):
//   dscale[c] = sum over b, pixels of g * xhat      dbias[c] = sum of g
//   dx = rstd * (g * scale - mean_group(g * scale) - xhat * mean_group(g * scale * xhat))
// Three passes (every dispatch costs a thread-pool round on CPU adapters, so few and all parallel):
// - PARTIAL: grid (chunks, B), lanes over channel vectors; per chunk of pixels and channel the
//   sums of g and g * xhat -> partial [B, chunks, 2, C].
// - REDUCE: grid (B + 1). Workgroup b < B: lanes over channels sum image b's chunks -> chan
//   [B, 2, C], then lanes over groups the mean of scale * chan over each group -> gm [B, G]
//   (m1, m2). Workgroup B: lanes over channels sum every image's chunks -> dbias, dscale.
// - APPLY: grid (chunks, B); dx.
// The pre-swish value y is recomputed from x as the forward computes it. Accumulation in f32.
// Defines: T (storage type), VEC (4 channels per lane), WG, SWISH, IS_PARTIAL / IS_REDUCE /
// IS_APPLY, COEFS (PARTIAL or APPLY).

#if ${VEC}
alias XV = vec4<${T}>;
alias FV = vec4<f32>;
#else
alias XV = ${T};
alias FV = f32;
#endif

struct Params {
  pixels: u32,     // H * W
  c: u32,          // channels
  cv: u32,         // channels / V
  chunk: u32,      // pixels per chunk
  chunks: u32,
  group_size: u32, // channels per group
  groups: u32,
  batch: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

#if ${IS_PARTIAL}
@group(0) @binding(1) var<storage, read> x: array<XV>;
@group(0) @binding(2) var<storage, read> dy: array<XV>;
@group(0) @binding(3) var<storage, read> stats: array<vec2<f32>>;  // [B, G] (mean, rstd)
@group(0) @binding(4) var<storage, read> scale: array<XV>;
@group(0) @binding(5) var<storage, read> shift: array<XV>;
@group(0) @binding(6) var<storage, read_write> partial: array<FV>;  // [B, chunks, 2, CV]
#endif

#if ${IS_APPLY}
@group(0) @binding(1) var<storage, read> x: array<XV>;
@group(0) @binding(2) var<storage, read> dy: array<XV>;
@group(0) @binding(3) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> scale: array<XV>;
@group(0) @binding(5) var<storage, read> shift: array<XV>;
@group(0) @binding(6) var<storage, read> gm: array<vec2<f32>>;  // [B, G] (m1, m2)
@group(0) @binding(7) var<storage, read_write> dx: array<XV>;
#endif

#if ${COEFS}
// Per channel of channel vector cv: (mean, rstd) of its group, and the folded affine y = x * a + d.
struct Coefs {
  mean: FV,
  rstd: FV,
  a: FV,
  d: FV,
}

fn group_stats(b: u32, c: u32) -> vec2<f32> {
  return stats[b * p.groups + c / p.group_size];
}

fn coefs(b: u32, cv: u32) -> Coefs {
#if ${VEC}
  let s0 = group_stats(b, cv * 4u);
  let s1 = group_stats(b, cv * 4u + 1u);
  let s2 = group_stats(b, cv * 4u + 2u);
  let s3 = group_stats(b, cv * 4u + 3u);
  let mean = vec4<f32>(s0.x, s1.x, s2.x, s3.x);
  let rstd = vec4<f32>(s0.y, s1.y, s2.y, s3.y);
#else
  let s = group_stats(b, cv);
  let mean = s.x;
  let rstd = s.y;
#endif
  // As the forward folds it: a = rstd * scale, d = bias - mean * a.
  let a = rstd * FV(scale[cv]);
  return Coefs(mean, rstd, a, FV(shift[cv]) - mean * a);
}

// dL/d(affine output): dy, through swish' when SWISH.
fn pre_grad(xv: FV, g: FV, k: Coefs) -> FV {
#if ${SWISH}
  let y = fma(xv, k.a, k.d);
  let s = FV(1.0) / (FV(1.0) + exp(-y));
  return g * s * (FV(1.0) + y * (FV(1.0) - s));
#else
  return g;
#endif
}
#endif

#if ${IS_PARTIAL}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wid.y;
  let first = wid.x * p.chunk;
  let last = min(first + p.chunk, p.pixels);
  let image = b * p.pixels * p.cv;
  for (var cv = lid.x; cv < p.cv; cv += ${WG}u) {
    let k = coefs(b, cv);
    var s1 = FV(0.0);
    var s2 = FV(0.0);
    for (var i = first; i < last; i++) {
      let at = image + i * p.cv + cv;
      let xv = FV(x[at]);
      let g = pre_grad(xv, FV(dy[at]), k);
      s1 += g;
      s2 = fma(g, (xv - k.mean) * k.rstd, s2);
    }
    let out = ((b * p.chunks + wid.x) * 2u) * p.cv + cv;
    partial[out] = s1;
    partial[out + p.cv] = s2;
  }
}
#endif

#if ${IS_REDUCE}
@group(0) @binding(1) var<storage, read> partial: array<f32>;  // [B, chunks, 2, C]
@group(0) @binding(2) var<storage, read> scale: array<${T}>;
@group(0) @binding(3) var<storage, read_write> chan: array<f32>;  // [B, 2, C]
@group(0) @binding(4) var<storage, read_write> gm: array<vec2<f32>>;  // [B, G]
@group(0) @binding(5) var<storage, read_write> dscale: array<f32>;
@group(0) @binding(6) var<storage, read_write> dbias: array<f32>;

// The sums over chunks of images first..last-1 for channel c.
fn chunk_sums(first: u32, last: u32, c: u32) -> vec2<f32> {
  var s = vec2<f32>(0.0);
  for (var b = first; b < last; b++) {
    for (var k = 0u; k < p.chunks; k++) {
      let at = ((b * p.chunks + k) * 2u) * p.c + c;
      s += vec2<f32>(partial[at], partial[at + p.c]);
    }
  }
  return s;
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wid.x;  // uniform per workgroup
  if (b == p.batch) {
    for (var c = lid.x; c < p.c; c += ${WG}u) {
      let s = chunk_sums(0u, p.batch, c);
      dbias[c] = s.x;
      dscale[c] = s.y;
    }
    return;
  }
  for (var c = lid.x; c < p.c; c += ${WG}u) {
    let s = chunk_sums(b, b + 1u, c);
    chan[(b * 2u) * p.c + c] = s.x;
    chan[(b * 2u + 1u) * p.c + c] = s.y;
  }
  // This workgroup's chan writes are visible to all its invocations past the barrier.
  storageBarrier();
  let count = f32(p.pixels) * f32(p.group_size);
  for (var g = lid.x; g < p.groups; g += ${WG}u) {
    var m1 = 0.0;
    var m2 = 0.0;
    for (var j = 0u; j < p.group_size; j++) {
      let c = g * p.group_size + j;
      let sc = f32(scale[c]);
      m1 = fma(sc, chan[(b * 2u) * p.c + c], m1);
      m2 = fma(sc, chan[(b * 2u + 1u) * p.c + c], m2);
    }
    gm[b * p.groups + g] = vec2<f32>(m1, m2) / count;
  }
}
#endif

#if ${IS_APPLY}
fn group_means(b: u32, c: u32) -> vec2<f32> {
  return gm[b * p.groups + c / p.group_size];
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wid.y;
  let first = wid.x * p.chunk;
  let last = min(first + p.chunk, p.pixels);
  let image = b * p.pixels * p.cv;
  for (var cv = lid.x; cv < p.cv; cv += ${WG}u) {
    let k = coefs(b, cv);
#if ${VEC}
    let g0 = group_means(b, cv * 4u);
    let g1 = group_means(b, cv * 4u + 1u);
    let g2 = group_means(b, cv * 4u + 2u);
    let g3 = group_means(b, cv * 4u + 3u);
    let m1 = vec4<f32>(g0.x, g1.x, g2.x, g3.x);
    let m2 = vec4<f32>(g0.y, g1.y, g2.y, g3.y);
#else
    let gmv = group_means(b, cv);
    let m1 = gmv.x;
    let m2 = gmv.y;
#endif
    let sc = FV(scale[cv]);
    for (var i = first; i < last; i++) {
      let at = image + i * p.cv + cv;
      let xv = FV(x[at]);
      let g = pre_grad(xv, FV(dy[at]), k);
      let xhat = (xv - k.mean) * k.rstd;
      dx[at] = XV(k.rstd * (g * sc - m1 - xhat * m2));
    }
  }
}
#endif
