// Standalone activation: out[i] = ACT(x[i]) with ACT one of the functions of the activations
// snippet (prepended by the TS op). Four elements per invocation when the size allows.
// Defines: T (storage), ACT (function name), V4, WG.

struct Params {
  n: u32,  // in units of the access width (4 when V4)
}

@group(0) @binding(0) var<uniform> p: Params;
#if ${V4}
@group(0) @binding(1) var<storage, read> x: array<vec4<${T}>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<${T}>>;
#else
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read_write> out: array<${T}>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * ${WG}u;
  if (i >= p.n) {
    return;
  }
#if ${V4}
  let v = vec4<f32>(x[i]);
  out[i] = vec4<${T}>(vec4<f32>(${ACT}(v.x), ${ACT}(v.y), ${ACT}(v.z), ${ACT}(v.w)));
#else
  out[i] = ${T}(${ACT}(f32(x[i])));
#endif
}
