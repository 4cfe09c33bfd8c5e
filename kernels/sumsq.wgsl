// Partial sums of squares: workgroup w folds elements w*WG + lid, stepping by the whole grid,
// and writes one partial at offset + w; many tensors share one partials array, which one
// last reduction sums (the global gradient norm in one pass per tensor plus one).
// Defines: T, WG (power of two), SUBGROUPS.

struct Params {
  n: u32,
  groups: u32,
  offset: u32,   // where this tensor's partials go in the shared partials array
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;

var<workgroup> scratch: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32
#if ${SUBGROUPS}
        , @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sg_size: u32
#endif
        ) {
  var acc = 0.0;
  for (var i = wid.x * ${WG}u + lid; i < p.n; i += p.groups * ${WG}u) {
    let v = f32(x[i]);
    acc += v * v;
  }
#if ${SUBGROUPS}
  acc = subgroupAdd(acc);
  if (lane == 0u) {
    scratch[lid / sg_size] = acc;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var total = 0.0;
    for (var s = 0u; s < ${WG}u / sg_size; s++) {
      total += scratch[s];
    }
    partials[p.offset + wid.x] = total;
  }
#else
  scratch[lid] = acc;
  workgroupBarrier();
  for (var s = ${WG}u / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      scratch[lid] += scratch[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    partials[p.offset + wid.x] = scratch[0];
  }
#endif
}
