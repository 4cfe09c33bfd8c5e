// Snippet (no bindings, no entry point): workgroup-wide sum and max of one f32 per invocation,
// for kernels with a 1-D workgroup of ${WG} invocations. Prepended to a kernel's source by its
// TS op (see src/tensor/ops/snippets.ts). Every invocation gets the same, deterministic result.
//
// ONE_SUBGROUP: the host makes the workgroup no larger than the adapter's smallest subgroup
// size, so the workgroup is a single subgroup and subgroupAdd/Max alone is the result: no
// workgroup memory, no barrier (barriers are the expensive part on CPU adapters).
// Portable path: every invocation stores its value; after one barrier every invocation folds
// all ${WG} slots in the same order. Consecutive reductions alternate between two slot banks,
// so one barrier per reduction is enough (a bank is rewritten only after the next reduction's
// barrier, when every read of it is done).
// Call wr_init once, then wg_sum/wg_max from uniform control flow.
// Defines: WG, ONE_SUBGROUP.

#if ${ONE_SUBGROUP}
fn wr_init(lid: u32) {
}

fn wg_sum(x: f32) -> f32 {
  return subgroupAdd(x);
}

fn wg_max(x: f32) -> f32 {
  return subgroupMax(x);
}
#else
var<workgroup> wr_slots: array<f32, 2 * ${WG}>;
var<private> wr_lid: u32;
var<private> wr_bank: u32;

fn wr_init(lid: u32) {
  wr_lid = lid;
  wr_bank = 0u;
}

fn wr_gather(v: f32, is_max: bool) -> f32 {
  let base = wr_bank * ${WG}u;
  wr_bank ^= 1u;
  wr_slots[base + wr_lid] = v;
  workgroupBarrier();
  var total = wr_slots[base];
  for (var s = 1u; s < ${WG}u; s++) {
    let y = wr_slots[base + s];
    total = select(total + y, max(total, y), is_max);
  }
  return total;
}

fn wg_sum(x: f32) -> f32 {
  return wr_gather(x, false);
}

fn wg_max(x: f32) -> f32 {
  return wr_gather(x, true);
}
#endif
