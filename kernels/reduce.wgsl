// Reduction over the last axis: one workgroup per row. Each invocation folds a strided part
// of the row; the workgroup then combines its partials, through subgroup operations where
// the adapter has them (one barrier) or a tree in workgroup memory (log2(WG) barriers).
// Floats accumulate in f32.
// Defines: T (storage type), ACC (accumulator type), IS_MAX, IDENTITY, WG (power of two),
// SUBGROUPS.

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<${T}>;
@group(0) @binding(2) var<storage, read_write> out: array<${T}>;

var<workgroup> partial: array<${ACC}, ${WG}>;

fn combine(x: ${ACC}, y: ${ACC}) -> ${ACC} {
#if ${IS_MAX}
  return max(x, y);
#else
  return x + y;
#endif
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32
#if ${SUBGROUPS}
        , @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sg_size: u32
#endif
        ) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) {
    return;  // uniform per workgroup: the barriers below are never split
  }
  let base = row * p.cols;
  var acc = ${ACC}(${IDENTITY});
  for (var c = lid; c < p.cols; c += ${WG}u) {
    acc = combine(acc, ${ACC}(a[base + c]));
  }
#if ${SUBGROUPS}
#if ${IS_MAX}
  acc = subgroupMax(acc);
#else
  acc = subgroupAdd(acc);
#endif
  if (lane == 0u) {
    partial[lid / sg_size] = acc;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var total = partial[0];
    for (var s = 1u; s < ${WG}u / sg_size; s++) {
      total = combine(total, partial[s]);
    }
    out[row] = ${T}(total);
  }
#else
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = ${WG}u / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      partial[lid] = combine(partial[lid], partial[lid + s]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[row] = ${T}(partial[0]);
  }
#endif
}
