// Softmax cross-entropy with label smoothing, one workgroup per row, loss and gradient in one
// pass over the logits. Only the first `classes` columns take part (MaskGIT predicts image
// tokens; class and mask ids are never targets). With q = (1 - s) onehot(t) + s / classes:
//   loss_r  = w_r * scale * (logsumexp(x) - sum_j q_j x_j)
//   dlogit  = w_r * scale * (softmax(x) - q)        (0 for the columns past `classes`)
// Defines: WG (power of two), SUBGROUPS.

struct Params {
  rows: u32,
  stride: u32,     // logits per row in memory (the vocabulary)
  classes: u32,    // columns that take part
  smoothing: f32,
  scale: f32,      // e.g. 1 / (number of weighted rows)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> dlogits: array<f32>;

var<workgroup> scratch: array<f32, ${WG}>;

// Combines one value per invocation across the workgroup (max or sum); every invocation gets the result.
fn workgroup_reduce(value: f32, is_max: bool, lid: u32
#if ${SUBGROUPS}
    , lane: u32, sg_size: u32
#endif
    ) -> f32 {
#if ${SUBGROUPS}
  var v = select(subgroupAdd(value), subgroupMax(value), is_max);
  workgroupBarrier();
  if (lane == 0u) {
    scratch[lid / sg_size] = v;
  }
  workgroupBarrier();
  var total = scratch[0];
  for (var s = 1u; s < ${WG}u / sg_size; s++) {
    total = select(total + scratch[s], max(total, scratch[s]), is_max);
  }
  return total;
#else
  workgroupBarrier();
  scratch[lid] = value;
  workgroupBarrier();
  for (var s = ${WG}u / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      scratch[lid] = select(scratch[lid] + scratch[lid + s], max(scratch[lid], scratch[lid + s]), is_max);
    }
    workgroupBarrier();
  }
  return scratch[0];
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
    return;  // uniform per workgroup
  }
  let base = row * p.stride;
  let w = weights[row] * p.scale;
  var local_max = -3.4e38;
  var local_sum_x = 0.0;
  for (var j = lid; j < p.classes; j += ${WG}u) {
    let x = logits[base + j];
    local_max = max(local_max, x);
    local_sum_x += x;
  }
#if ${SUBGROUPS}
  let row_max = workgroup_reduce(local_max, true, lid, lane, sg_size);
  let sum_x = workgroup_reduce(local_sum_x, false, lid, lane, sg_size);
#else
  let row_max = workgroup_reduce(local_max, true, lid);
  let sum_x = workgroup_reduce(local_sum_x, false, lid);
#endif
  var local_sum_e = 0.0;
  for (var j = lid; j < p.classes; j += ${WG}u) {
    local_sum_e += exp(logits[base + j] - row_max);
  }
#if ${SUBGROUPS}
  let sum_e = workgroup_reduce(local_sum_e, false, lid, lane, sg_size);
#else
  let sum_e = workgroup_reduce(local_sum_e, false, lid);
#endif
  let label = u32(clamp(targets[row], 0, i32(p.classes) - 1));
  let off = p.smoothing / f32(p.classes);
  let on = 1.0 - p.smoothing + off;
  let lse = row_max + log(sum_e);
  if (lid == 0u) {
    // sum_j q_j x_j = (1 - s) x_t + (s / C) sum_j x_j
    loss[row] = w * (lse - (1.0 - p.smoothing) * logits[base + label] - off * sum_x);
  }
  for (var j = lid; j < p.stride; j += ${WG}u) {
    var d = 0.0;
    if (j < p.classes) {
      let q = select(off, on, j == label);
      d = w * (exp(logits[base + j] - lse) - q);
    }
    dlogits[base + j] = d;
  }
}
