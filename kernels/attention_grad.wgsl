// The backward of bidirectional multi-head attention over a fused QKV projection
// (kernels/attention.wgsl with LSE), flash-style: the probabilities are recomputed from q, k
// and each query's saved base-2 log-sum-exp, so no L x L matrix is ever stored. With
// S = scale * q k^T, P = softmax(S), O = P v and dO the output gradient:
//   D_i = dO_i . O_i;   dS_ij = P_ij (dO_i . v_j - D_i)
//   dq_i = scale * sum_j dS_ij k_j;  dk_j = scale * sum_i dS_ij q_i;  dv_j = sum_i P_ij dO_i
// The gradient dqkv [B, L, 3H] has qkv's layout (q | k | v columns, heads head-major).
// Three passes selected by a define, each with the grid (ceil(L / WG), heads, B):
// - IS_DELTA: one invocation per query: delta[b, h, i] = D_i.
// - IS_DQ: one invocation per query, visiting every key (k and v rows).
// - IS_DKV: one invocation per key, visiting every query (q and dO rows, lse and D). Separate
//   from IS_DQ, so that each invocation owns what it writes.
// The rows every invocation of a workgroup visits are shared as the forward shares them:
//  SUBGROUPS: in blocks of BK rows; the G lanes of a lane group each load different chunks of
//    the block and every lane gets each chunk through subgroupBroadcast, with no barriers (G is at
//    most the smallest subgroup size, larger subgroups repeat the pattern). Subgroups whose
//    rows are all past the end return together.
//  portable: tiles of TILE rows copied into workgroup memory between two barriers.
// The head width is unrolled by the host (statement lists LOAD, INIT, LANE_SETUP, BLOCK (subgroups),
// BODY (portable), STORE) so that the per-invocation vectors stay in registers. f32 only.
// Defines: V4, DV (head width in units of FV), WG, TILE, SUBGROUPS, PORTABLE, IS_DELTA, IS_DQ,
// IS_DKV, and the statement lists.

#if ${SUBGROUPS}
// The early returns below are uniform per subgroup (they test subgroupAll), which the uniformity
// analysis cannot see.
diagnostic(off, subgroup_uniformity);
#endif

#if ${V4}
alias FV = vec4<f32>;
#else
alias FV = f32;
#endif

struct Params {
  l: u32,          // sequence length
  qkv_batch: u32,  // element strides of qkv / dqkv, in units of FV
  qkv_row: u32,
  hidden: u32,     // H in units of FV (offset of k's columns; v's are at 2 * hidden)
  o_batch: u32,    // strides of o and dO
  o_row: u32,
  scale2: f32,     // scale * log2(e): scores in base 2, as the forward's lse
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn hsum(v: FV) -> f32 {
#if ${V4}
  return v.x + v.y + v.z + v.w;
#else
  return v;
#endif
}

#if ${IS_DELTA}
@group(0) @binding(1) var<storage, read> o: array<FV>;
@group(0) @binding(2) var<storage, read> dout: array<FV>;
@group(0) @binding(3) var<storage, read_write> delta: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = wid.x * ${WG}u + lid;
  if (i >= p.l) {
    return;
  }
  let head = wid.y;
  let batch = wid.z;
  let ob = batch * p.o_batch + i * p.o_row + head * ${DV}u;
  var acc = FV(0.0);
  for (var c = 0u; c < ${DV}u; c++) {
    acc = fma(o[ob + c], dout[ob + c], acc);
  }
  delta[(batch * nwg.y + head) * p.l + i] = hsum(acc);
}
#endif

#if ${IS_DQ}
@group(0) @binding(1) var<storage, read> qkv: array<FV>;
@group(0) @binding(2) var<storage, read> dout: array<FV>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> delta: array<f32>;
@group(0) @binding(5) var<storage, read_write> dqkv: array<FV>;

#if ${PORTABLE}
var<workgroup> tile_k: array<FV, ${TILE} * ${DV}>;
var<workgroup> tile_v: array<FV, ${TILE} * ${DV}>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>
#if ${SUBGROUPS}
        , @builtin(subgroup_invocation_id) sg_lane: u32
#endif
        ) {
  let head = wid.y;
  let batch = wid.z;
  let i_raw = wid.x * ${WG}u + lid;
#if ${SUBGROUPS}
  if (subgroupAll(i_raw >= p.l)) {
    return;
  }
#endif
  // Past-the-end invocations compute a copy of the last row (the barriers need them) and do not store it.
  let i = min(i_raw, p.l - 1u);
  let qb = batch * p.qkv_batch + i * p.qkv_row + head * ${DV}u;
  let ob = batch * p.o_batch + i * p.o_row + head * ${DV}u;
  let stat = (batch * nwg.y + head) * p.l + i;
  let lse_i = lse[stat];
  let delta_i = delta[stat];
${LOAD}
${INIT}
  let kb0 = batch * p.qkv_batch + p.hidden + head * ${DV}u;
  let vb0 = kb0 + p.hidden;
#if ${SUBGROUPS}
${LANE_SETUP}
  for (var j0 = 0u; j0 < p.l; j0 += ${BK}u) {
${BLOCK}
  }
#else
  for (var j0 = 0u; j0 < p.l; j0 += ${TILE}u) {
    for (var f = lid; f < ${TILE}u * ${DV}u; f += ${WG}u) {
      let key = min(j0 + f / ${DV}u, p.l - 1u);
      tile_k[f] = qkv[kb0 + key * p.qkv_row + f % ${DV}u];
      tile_v[f] = qkv[vb0 + key * p.qkv_row + f % ${DV}u];
    }
    workgroupBarrier();
    let tile_end = min(${TILE}u, p.l - j0);
    for (var t = 0u; t < tile_end; t++) {
      let tb = t * ${DV}u;
${BODY}
    }
    workgroupBarrier();
  }
#endif
  if (i_raw < p.l) {
${STORE}
  }
}
#endif

#if ${IS_DKV}
@group(0) @binding(1) var<storage, read> qkv: array<FV>;
@group(0) @binding(2) var<storage, read> dout: array<FV>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> delta: array<f32>;
@group(0) @binding(5) var<storage, read_write> dqkv: array<FV>;

#if ${PORTABLE}
var<workgroup> tile_q: array<FV, ${TILE} * ${DV}>;
var<workgroup> tile_do: array<FV, ${TILE} * ${DV}>;
var<workgroup> tile_lse: array<f32, ${TILE}>;
var<workgroup> tile_delta: array<f32, ${TILE}>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>
#if ${SUBGROUPS}
        , @builtin(subgroup_invocation_id) sg_lane: u32
#endif
        ) {
  let head = wid.y;
  let batch = wid.z;
  let j_raw = wid.x * ${WG}u + lid;
#if ${SUBGROUPS}
  if (subgroupAll(j_raw >= p.l)) {
    return;
  }
#endif
  let j = min(j_raw, p.l - 1u);
  let kb = batch * p.qkv_batch + j * p.qkv_row + p.hidden + head * ${DV}u;
  let vb = kb + p.hidden;
${LOAD}
${INIT}
  let qb0 = batch * p.qkv_batch + head * ${DV}u;
  let ob0 = batch * p.o_batch + head * ${DV}u;
  let stat0 = (batch * nwg.y + head) * p.l;
#if ${SUBGROUPS}
${LANE_SETUP}
  for (var i0 = 0u; i0 < p.l; i0 += ${BK}u) {
${BLOCK}
  }
#else
  for (var i0 = 0u; i0 < p.l; i0 += ${TILE}u) {
    for (var f = lid; f < ${TILE}u * ${DV}u; f += ${WG}u) {
      let query = min(i0 + f / ${DV}u, p.l - 1u);
      tile_q[f] = qkv[qb0 + query * p.qkv_row + f % ${DV}u];
      tile_do[f] = dout[ob0 + query * p.o_row + f % ${DV}u];
    }
    for (var t = lid; t < ${TILE}u; t += ${WG}u) {
      let query = min(i0 + t, p.l - 1u);
      tile_lse[t] = lse[stat0 + query];
      tile_delta[t] = delta[stat0 + query];
    }
    workgroupBarrier();
    let tile_end = min(${TILE}u, p.l - i0);
    for (var t = 0u; t < tile_end; t++) {
      let tb = t * ${DV}u;
${BODY}
    }
    workgroupBarrier();
  }
#endif
  if (j_raw < p.l) {
${STORE}
  }
}
#endif
