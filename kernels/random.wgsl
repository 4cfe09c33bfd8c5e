// Fills out[r, p, i] (shape [R, P, I]) with word i % 4 of the Philox block of stream
// (seeds[r], PURPOSE) at counter (i / 4, p, STEP, 0): raw bits, uniforms in (0, 1), or
// Gumbel noise. Each invocation computes one block and writes its (up to) four words;
// the grid is (blocks / WG, P, R), so no invocation divides to find its coordinates.
// Prepended with kernels/philox.wgsl. Defines: OUT (u32 for bits, f32 otherwise), BITS,
// GUMBEL (uniforms when neither), WG.

struct Params {
  length: u32,   // I
  positions: u32, // P
  purpose: u32,
  step: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> seeds: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<${OUT}>;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let block = gid.x;
  if (block * 4u >= p.length) {
    return;
  }
  let words = philox4x32_10(vec4<u32>(block, gid.y, p.step, 0u), vec2<u32>(seeds[gid.z], p.purpose));
  let base = (gid.z * p.positions + gid.y) * p.length + block * 4u;
  for (var w = 0u; w < 4u; w++) {
    if (block * 4u + w < p.length) {
#if ${BITS}
      out[base + w] = words[w];
#elif ${GUMBEL}
      out[base + w] = philox_gumbel(words[w]);
#else
      out[base + w] = philox_uniform(words[w]);
#endif
    }
  }
}
