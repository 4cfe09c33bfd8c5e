// Snippet (no bindings, no entry point): workgroup-wide sum and max of one f32 per invocation,
// for kernels with a 1-D workgroup of ${WG} invocations. Prepended to a kernel's source by its
// TS op (see src/tensor/ops/snippets.ts). Every invocation gets the same, deterministic result.
//
// Subgroup path (SUBGROUPS): subgroupAdd/Max first; each subgroup's leader (subgroup lane 0)
// stores its partial in the slot of its own local_invocation_index and sets its bit in a
// leader mask; after one barrier every invocation folds the leaders' partials in mask order.
// Nothing assumes a subgroup size or how subgroups map onto local_invocation_index, and the
// order of the fold does not depend on timing (no atomic counters handing out slots).
// Portable path: every invocation stores its value; after one barrier every invocation folds
// all ${WG} slots in order.
// Consecutive reductions alternate between two slot banks, so one barrier per reduction is
// enough (a bank is rewritten only after the next reduction's barrier, when all reads of it
// are done). Call wr_init once, then wg_sum/wg_max from uniform control flow.
// Defines: WG (invocations per workgroup, a multiple of 32 or at most 32), SUBGROUPS.

const WR_WORDS = (${WG}u + 31u) / 32u;

var<workgroup> wr_slots: array<f32, 2 * ${WG}>;
#if ${SUBGROUPS}
var<workgroup> wr_leaders: array<atomic<u32>, WR_WORDS>;
#endif
var<private> wr_lid: u32;
var<private> wr_lane: u32;
var<private> wr_bank: u32;

// lane: the invocation's index within its subgroup on the subgroup path (ignored on the portable path).
fn wr_init(lid: u32, lane: u32) {
  wr_lid = lid;
  wr_lane = lane;
  wr_bank = 0u;
}

fn wr_fold(x: f32, y: f32, is_max: bool) -> f32 {
  return select(x + y, max(x, y), is_max);
}

// Stores this invocation's (subgroup-reduced) value, waits, and folds the stored values.
fn wr_gather(v: f32, is_max: bool) -> f32 {
  let base = wr_bank * ${WG}u;
  wr_bank ^= 1u;
#if ${SUBGROUPS}
  if (wr_lane == 0u) {
    wr_slots[base + wr_lid] = v;
    atomicOr(&wr_leaders[wr_lid / 32u], 1u << (wr_lid % 32u));
  }
  workgroupBarrier();
  var total = select(0.0, -3.4028234663852886e38, is_max);
  for (var w = 0u; w < WR_WORDS; w++) {
    var bits = atomicLoad(&wr_leaders[w]);
    while (bits != 0u) {
      let b = firstTrailingBit(bits);
      total = wr_fold(total, wr_slots[base + w * 32u + b], is_max);
      bits &= bits - 1u;
    }
  }
  return total;
#else
  wr_slots[base + wr_lid] = v;
  workgroupBarrier();
  var total = wr_slots[base];
  for (var s = 1u; s < ${WG}u; s++) {
    total = wr_fold(total, wr_slots[base + s], is_max);
  }
  return total;
#endif
}

fn wg_sum(x: f32) -> f32 {
#if ${SUBGROUPS}
  return wr_gather(subgroupAdd(x), false);
#else
  return wr_gather(x, false);
#endif
}

fn wg_max(x: f32) -> f32 {
#if ${SUBGROUPS}
  return wr_gather(subgroupMax(x), true);
#else
  return wr_gather(x, true);
#endif
}
