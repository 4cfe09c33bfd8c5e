// Scaled dot-product attention with an online (flash-style) softmax: for each query i of each
// head, out_i = sum_j softmax_j(q_i . k_j * scale) v_j, without ever storing the scores.
// q, k and v are strided views (they may all be the fused QKV projection [B, L, 3H], bound
// three times): element (b, row, head h, chunk c) of q is at
// q_batch * b + q_row * row + q_col + h * DV + c, in units of the access width (vec4 or scalar);
// likewise for k, v and the output. Queries and keys have separate lengths (lq, lk), so the
// same kernel serves self-attention and queries over a KV cache.
// CAUSAL: query i sees keys j <= i + causal_offset (causal_offset = lk - lq for a cache).
//
// One invocation per query. The head width is unrolled by the host (the ${...} statement lists
// below): per-invocation arrays indexed in loops live in scratch memory on CPU adapters, and
// unrolled code keeps q and the accumulator in registers. Every loaded k/v value is used by
// all the queries of its workgroup or subgroup:
//  SUBGROUPS: keys are visited in blocks of BK. The G lanes of a lane group each load different
//    chunks of the block's k (then v) rows, and each chunk reaches every lane through
//    subgroupBroadcast. G (4 or 8) is at most the adapter's smallest subgroup size; larger
//    subgroups repeat the pattern per group of G lanes, so the result does not depend on the
//    subgroup size. The block's BK scores come first, then the running max is raised once and
//    the block's values are added. Subgroups whose queries are all past the end return
//    together, so the broadcasts always run in whole subgroups. No barriers.
//  portable: the workgroup copies a tile of TILE keys' k and v rows into workgroup memory
//    (each invocation a different part), waits, and every invocation folds the tile's keys
//    one at a time into its online softmax; a second barrier guards the tile's reuse.
// Scores are in base 2: q is pre-multiplied by scale * log2(e) and exp2 is used.
// LSE: also write each query's log-sum-exp (training).
// Defines: T (storage), V4, DV, WG, BK, TILE, CAUSAL, LSE, SUBGROUPS, PORTABLE (= !SUBGROUPS), and the generated statement
// lists LOAD_Q, INIT_ACC, LANE_SETUP, SCORES, RESCALE, ACCUMULATE, TILE_KEY, STORE.

#if ${SUBGROUPS}
// The early return below is uniform per subgroup (it tests subgroupAll), which the uniformity
// analysis cannot see.
diagnostic(off, subgroup_uniformity);
#endif

#if ${V4}
alias XV = vec4<${T}>;
alias FV = vec4<f32>;
#else
alias XV = ${T};
alias FV = f32;
#endif

const MASKED = -3.0e38;    // score of an invisible key: exp2(MASKED - m) is 0
const M_START = -1.0e30;   // running max before any key: finite, so m - m_new is never inf - inf

struct Params {
  lq: u32, lk: u32, causal_offset: u32, _p0: u32,
  q_batch: u32, q_row: u32, q_col: u32, _p1: u32,
  k_batch: u32, k_row: u32, k_col: u32, _p2: u32,
  v_batch: u32, v_row: u32, v_col: u32, _p3: u32,
  o_batch: u32, o_row: u32, o_col: u32, _p4: u32,
  scale: f32,  // 1/sqrt(head_dim) * log2(e), or the caller's scale * log2(e)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q_in: array<XV>;
@group(0) @binding(2) var<storage, read> k_in: array<XV>;
@group(0) @binding(3) var<storage, read> v_in: array<XV>;
@group(0) @binding(4) var<storage, read_write> out: array<XV>;
#if ${LSE}
// Per (batch, head, query): the base-2 log-sum-exp of the query's base-2 scores, m + log2(l),
// which the backward (kernels/attention_grad.wgsl) uses to recompute the probabilities.
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
#endif

#if ${PORTABLE}
var<workgroup> tile_k: array<FV, ${TILE} * ${DV}>;
var<workgroup> tile_v: array<FV, ${TILE} * ${DV}>;
#endif

fn hsum(v: FV) -> f32 {
#if ${V4}
  return v.x + v.y + v.z + v.w;
#else
  return v;
#endif
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32
#if ${LSE}
        , @builtin(num_workgroups) nwg: vec3<u32>
#endif
#if ${SUBGROUPS}
        , @builtin(subgroup_invocation_id) sg_lane: u32
#endif
        ) {
  let head = wid.y;
  let batch = wid.z;
  let i_raw = wid.x * ${WG}u + lid;
#if ${SUBGROUPS}
  if (subgroupAll(i_raw >= p.lq)) {
    return;
  }
#endif
  // Past-the-end invocations of a live subgroup (or, on the portable path, workgroup: the
  // barriers need all of it) compute a copy of the last row and do not store it.
  let i = min(i_raw, p.lq - 1u);
  let qb = batch * p.q_batch + i * p.q_row + p.q_col + head * ${DV}u;
${LOAD_Q}
${INIT_ACC}
  var m = M_START;
  var l = 0.0;
  var kv_end = p.lk;
#if ${CAUSAL}
  // Keys past what the workgroup's last query may see are skipped.
  let last = min(wid.x * ${WG}u + ${WG}u - 1u, p.lq - 1u);
  kv_end = min(kv_end, last + p.causal_offset + 1u);
  let limit = i + p.causal_offset;
#endif
  let kb0 = batch * p.k_batch + p.k_col + head * ${DV}u;
  let vb0 = batch * p.v_batch + p.v_col + head * ${DV}u;
#if ${SUBGROUPS}
${LANE_SETUP}
  for (var j0 = 0u; j0 < kv_end; j0 += ${BK}u) {
${SCORES}
    let alpha = exp2(m - m_new);
    l *= alpha;
${RESCALE}
${ACCUMULATE}
    m = m_new;
  }
#else
  for (var j0 = 0u; j0 < kv_end; j0 += ${TILE}u) {
    for (var f = lid; f < ${TILE}u * ${DV}u; f += ${WG}u) {
      let key = min(j0 + f / ${DV}u, kv_end - 1u);
      tile_k[f] = FV(k_in[kb0 + key * p.k_row + f % ${DV}u]);
      tile_v[f] = FV(v_in[vb0 + key * p.v_row + f % ${DV}u]);
    }
    workgroupBarrier();
    let tile_end = min(${TILE}u, kv_end - j0);
    for (var t = 0u; t < tile_end; t++) {
      let tb = t * ${DV}u;
${TILE_KEY}
    }
    workgroupBarrier();
  }
#endif
  if (i_raw < p.lq) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
    let ob = batch * p.o_batch + i * p.o_row + p.o_col + head * ${DV}u;
${STORE}
#if ${LSE}
    lse[(batch * nwg.y + head) * p.lq + i] = m + log2(l);
#endif
  }
}
