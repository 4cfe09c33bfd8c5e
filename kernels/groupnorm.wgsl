// GroupNorm over NHWC [B, H*W, C] with G groups of C/G channels, affine, optional swish
// (x * sigmoid(x)), in three passes selected by PASS:
// - STATS: grid (chunks, B); a workgroup sums its chunk of pixels per channel. Sums are of
//   x - x[b, pixel 0, c] (shifted data: the squares do not cancel catastrophically when the
//   mean is large next to the spread). Writes partial[b, chunk, c] = (sum, sum of squares).
// - FINAL: grid (B); lane g combines its group's channels over the chunks (Chan et al.:
//   per-channel mean and squared deviations, then between-channel spread) into mean and
//   1 / sqrt(var + eps), population variance as GroupNorm defines it.
// - APPLY: grid (chunks, B); (x - mean) * rstd * scale + bias, then swish when SWISH.
// Lanes run over channel vectors (V = 4 channels when C % 4 == 0) and loop over the chunk's
// pixels, so no lane divides to find its coordinates. Accumulation in f32.
// Defines: T (storage type), V (1 or 4), WG (lanes), IS_STATS / IS_FINAL / IS_APPLY, SWISH.

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
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

#if ${IS_STATS}
@group(0) @binding(1) var<storage, read> x: array<XV>;
@group(0) @binding(2) var<storage, read_write> partial: array<FV>;  // [B, chunks, 2, CV]

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wid.y;
  let first = wid.x * p.chunk;
  let last = min(first + p.chunk, p.pixels);
  let image = b * p.pixels * p.cv;
  for (var cv = lid.x; cv < p.cv; cv += ${WG}u) {
    let shift = FV(x[image + cv]);
    var s1 = FV(0.0);
    var s2 = FV(0.0);
    for (var i = first; i < last; i++) {
      let d = FV(x[image + i * p.cv + cv]) - shift;
      s1 += d;
      s2 = fma(d, d, s2);
    }
    let out = ((b * p.chunks + wid.x) * 2u) * p.cv + cv;
    partial[out] = s1;
    partial[out + p.cv] = s2;
  }
}
#endif

#if ${IS_FINAL}
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read> partial: array<f32>;  // [B, chunks, 2, C]
@group(0) @binding(3) var<storage, read_write> stats: array<vec2<f32>>;  // [B, G] (mean, rstd)

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wid.x;
  let n = f32(p.pixels);
  for (var g = lid.x; g < p.groups; g += ${WG}u) {
    // Per channel: mean and sum of squared deviations (M2) from the shifted sums.
    var mean_sum = 0.0;
    var m2 = 0.0;
    var means_sq = 0.0;  // sum of (channel mean - first channel mean)^2, for the spread between channels
    var means_lin = 0.0;
    var ref_mean = 0.0;
    for (var j = 0u; j < p.group_size; j++) {
      let c = g * p.group_size + j;
      var s1 = 0.0;
      var s2 = 0.0;
      for (var k = 0u; k < p.chunks; k++) {
        let at = ((b * p.chunks + k) * 2u) * p.c + c;
        s1 += partial[at];
        s2 += partial[at + p.c];
      }
      let mean_c = f32(x[b * p.pixels * p.c + c]) + s1 / n;
      m2 += max(s2 - s1 * s1 / n, 0.0);
      if (j == 0u) {
        ref_mean = mean_c;
      }
      let dm = mean_c - ref_mean;
      means_lin += dm;
      means_sq = fma(dm, dm, means_sq);
      mean_sum += mean_c;
    }
    let cg = f32(p.group_size);
    let mean = mean_sum / cg;
    // Sum over channels of n * (mean_c - mean)^2, computed around the first channel's mean.
    let between = n * max(means_sq - means_lin * means_lin / cg, 0.0);
    let variance = (m2 + between) / (n * cg);
    stats[b * p.groups + g] = vec2<f32>(mean, inverseSqrt(variance + p.eps));
  }
}
#endif

#if ${IS_APPLY}
@group(0) @binding(1) var<storage, read> x: array<XV>;
@group(0) @binding(2) var<storage, read> stats: array<vec2<f32>>;  // [B, G]
@group(0) @binding(3) var<storage, read> scale: array<XV>;
@group(0) @binding(4) var<storage, read> shift: array<XV>;
@group(0) @binding(5) var<storage, read_write> out: array<XV>;

fn group_stats(b: u32, c: u32) -> vec2<f32> {
  return stats[b * p.groups + c / p.group_size];
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wid.y;
  let first = wid.x * p.chunk;
  let last = min(first + p.chunk, p.pixels);
  let image = b * p.pixels * p.cv;
  for (var cv = lid.x; cv < p.cv; cv += ${WG}u) {
    // Folded per channel: y = x * a + d with a = rstd * scale, d = bias - mean * a.
#if ${VEC}
    let s0 = group_stats(b, cv * 4u);
    let s1 = group_stats(b, cv * 4u + 1u);
    let s2 = group_stats(b, cv * 4u + 2u);
    let s3 = group_stats(b, cv * 4u + 3u);
    let a = vec4<f32>(s0.y, s1.y, s2.y, s3.y) * vec4<f32>(scale[cv]);
    let d = vec4<f32>(shift[cv]) - vec4<f32>(s0.x, s1.x, s2.x, s3.x) * a;
#else
    let s = group_stats(b, cv);
    let a = s.y * f32(scale[cv]);
    let d = f32(shift[cv]) - s.x * a;
#endif
    for (var i = first; i < last; i++) {
      let at = image + i * p.cv + cv;
      var y = fma(FV(x[at]), a, d);
#if ${SWISH}
      y = y / (FV(1.0) + exp(-y));
#endif
      out[at] = XV(y);
    }
  }
}
#endif
