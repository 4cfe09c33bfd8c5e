// Sum over the middle axis of a [A, R, C] array -> [A, C] (the reduced axis of a broadcast
// gradient, a bias gradient). Each invocation owns one output element; neighbouring
// invocations read neighbouring columns, so every step of the loop over R is one coalesced row.
// Defines: T (storage type), WG.

struct Params {
  a: u32,
  r: u32,
  c: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read_write> out: array<${T}>;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col = gid.x;
  let outer = gid.y;
  if (col >= p.c) {
    return;
  }
  var acc = 0.0;
  var at = outer * p.r * p.c + col;
  for (var i = 0u; i < p.r; i++) {
    acc += f32(x[at]);
    at += p.c;
  }
  out[outer * p.c + col] = ${T}(acc);
}
