// out[i] = TO(a[i]): conversion between f32, f16, i32 and u32 (WGSL conversion rules:
// float -> int truncates toward zero and saturates).
// Defines: FROM, TO (storage types), WG.

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<${FROM}>;
@group(0) @binding(2) var<storage, read_write> out: array<${TO}>;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * ${WG}u;
  if (i < p.n) {
    out[i] = ${TO}(a[i]);
  }
}
