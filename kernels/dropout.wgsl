// Dropout with a counter-based mask: element i is kept when word i % 4 of the Philox block of
// stream (seed, PURPOSE) at counter (i / 4, site, step, 0) has (bits >> 8) >= threshold
// (threshold = round(rate * 2^24)), and then scaled by 1 / (1 - rate). The mask is a pure
// function of (seed, site, step, i): the backward recomputes it instead of storing it, and a
// resumed run draws exactly the masks an uninterrupted one would. Prepended with
// kernels/philox.wgsl; its host mirror is dropoutKeeps (src/tensor/ops/dropout.ts).
// One invocation per block of four elements. Defines: WG, V4 (size % 4 == 0).

struct Params {
  n: u32,          // elements
  seed: u32,
  purpose: u32,
  site: u32,
  step: u32,
  threshold: u32,
  inv_keep: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
#if ${V4}
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let block = gid.x + gid.y * nwg.x * ${WG}u;
  if (block * 4u >= p.n) {
    return;
  }
  let bits = philox4x32_10(vec4<u32>(block, p.site, p.step, 0u), vec2<u32>(p.seed, p.purpose));
  let keep = vec4<f32>((bits >> vec4<u32>(8u)) >= vec4<u32>(p.threshold)) * p.inv_keep;
#if ${V4}
  out[block] = x[block] * keep;
#else
  for (var w = 0u; w < 4u; w++) {
    let i = block * 4u + w;
    if (i < p.n) {
      out[i] = x[i] * keep[w];
    }
  }
#endif
}
