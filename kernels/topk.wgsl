// Radix select: the value at ascending sorted index `rank` of each row, and MaskGIT's
// re-masking by confidence built on it. Values are mapped to order-preserving u32 keys and
// the key at the rank is found 8 bits at a time, from the top: histogram the 256 digits of
// the keys that share the digits found so far, walk the cumulative counts to the bin that
// holds the rank, keep that digit. Four passes find the exact key, ties included (the value
// at the rank is the same whatever order equal values take).
//
// REMASK: rows are images, values their confidences; rank = mask_len = max(1, min(unknown
// - 1, cut)), with unknown counted live from the tokens (mask id) and cut = cuts[step, row]
// (floor(N0 * gamma) from the host schedule). Then, as officially, every position whose
// confidence is strictly below the value at that rank is re-masked and every other
// unknown position takes its sampled token; known positions (confidence +inf) are left
// alone. With ties at the cut fewer than mask_len are re-masked and the next step's
// unknown count follows. mirror_offset > 0 writes the same tokens to the row that far on
// (the unconditional half of a guided batch). Ranks at or past the row length give +inf.
//
// Stages (one per pipeline, chosen by defines):
// SINGLE  one workgroup per row, the row's keys cached in workgroup memory (rows up to
//         ROW_MAX): the whole selection in one dispatch.
// HIST    (multi-pass, any row length) one pass's digit histogram of a chunk of a row,
//         merged into hist[row] with global atomics; pass 0 also counts unknown tokens.
// PICK    (multi-pass) one workgroup per row: chooses the pass's digit from hist[row] and
//         clears it for the next pass; pass 0 fixes the rank. KTH writes the result at pass 3.
// APPLY   (multi-pass REMASK) the token update of a chunk of a row.
// Defines: SINGLE, HIST, PICK, APPLY, REMASK (else KTH: out[row] = the value), ROW_MAX,
// ITEMS (keys per invocation in HIST / APPLY). Workgroups have 256 invocations (one per bin).

struct Params {
  rows: u32,
  length: u32,
  mask_id: i32,
  step: u32,           // REMASK: row of cuts
  mirror_offset: u32,  // REMASK: elements to the mirrored row; 0 = none
  round: u32,          // HIST / PICK: the radix pass (0..3)
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

#if ${SINGLE}
@group(0) @binding(1) var<storage, read> values: array<f32>;
#if ${REMASK}
@group(0) @binding(2) var<storage, read> sampled: array<i32>;
@group(0) @binding(3) var<storage, read> cuts: array<i32>;
@group(0) @binding(4) var<storage, read_write> tokens: array<i32>;
#else
@group(0) @binding(2) var<storage, read> ranks: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#endif
#endif

#if ${HIST}
@group(0) @binding(1) var<storage, read> values: array<f32>;
#if ${REMASK}
@group(0) @binding(2) var<storage, read> tokens: array<i32>;
@group(0) @binding(3) var<storage, read_write> hist: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> state: array<atomic<u32>>;
#else
@group(0) @binding(2) var<storage, read_write> hist: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read_write> state: array<atomic<u32>>;
#endif
#endif

#if ${PICK}
#if ${REMASK}
@group(0) @binding(1) var<storage, read> cuts: array<i32>;
#else
@group(0) @binding(1) var<storage, read> ranks: array<i32>;
#endif
@group(0) @binding(2) var<storage, read_write> hist: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read_write> state: array<u32>;
#if ${REMASK}
#else
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
#endif
#endif

#if ${APPLY}
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read> sampled: array<i32>;
@group(0) @binding(3) var<storage, read> state: array<u32>;
@group(0) @binding(4) var<storage, read_write> tokens: array<i32>;
#endif

const BINS: u32 = 256u;

// +inf (a var, so that no constant expression overflows f32).
fn infinity() -> f32 {
  var bits = 0x7f800000u;
  return bitcast<f32>(bits);
}

// Order-preserving map of f32 to u32 (a < b as floats => key(a) < key(b)), and its inverse.
fn order_key(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
}

fn key_value(key: u32) -> f32 {
  return bitcast<f32>(select(~key, key & 0x7fffffffu, (key & 0x80000000u) != 0u));
}

// The digit mask of the bits already fixed before radix pass `round` (0..3).
fn fixed_bits(round: u32) -> u32 {
  return select(0u, 0xffffffffu << (32u - 8u * round), round > 0u);
}

// rank for a REMASK row: mask_len = max(1, min(unknown - 1, cut)).
fn mask_len(unknown: u32, cut: i32) -> i32 {
  return max(1, min(i32(unknown) - 1, cut));
}

// The new token of an unknown position (the caller skips known ones).
fn remasked(conf: f32, cutoff: f32, token: i32) -> i32 {
  return select(token, p.mask_id, conf < cutoff);
}

#if ${SINGLE}
var<workgroup> keys: array<u32, ${ROW_MAX}>;
#endif

#if ${ATOMIC_COUNTS}
var<workgroup> counts: array<atomic<u32>, 256>;
var<workgroup> unknown: atomic<u32>;
fn count_at(d: u32) -> u32 {
  return atomicLoad(&counts[d]);
}
#else
var<workgroup> counts: array<u32, 256>;
fn count_at(d: u32) -> u32 {
  return counts[d];
}
#endif

#if ${SEARCH}
var<workgroup> group_sums: array<u32, 16>;
var<workgroup> sel_prefix: u32;
var<workgroup> sel_rem: u32;

// Fixes the digit at `shift` of the key at rank sel_rem among the keys counted in `counts`
// (which share sel_prefix above that digit); sel_rem becomes the rank within that digit's
// bin. Called by every invocation (it has barriers); invocation 0 decides.
fn choose_digit(lid: u32, shift: u32) {
  if (lid < 16u) {
    var sum = 0u;
    for (var k = 0u; k < 16u; k++) {
      sum += count_at(lid * 16u + k);
    }
    group_sums[lid] = sum;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var rem = sel_rem;
    var g = 0u;
    for (; g < 15u; g++) {
      if (rem < group_sums[g]) {
        break;
      }
      rem -= group_sums[g];
    }
    var d = g * 16u;
    for (var k = 0u; k < 15u; k++) {
      let c = count_at(d);
      if (rem < c) {
        break;
      }
      rem -= c;
      d++;
    }
    sel_prefix |= d << shift;
    sel_rem = rem;
  }
  workgroupBarrier();
}
#endif

#if ${SINGLE}
var<workgroup> rank_shared: i32;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) {
    return;  // uniform per workgroup
  }
  let base = row * p.length;
  if (lid == 0u) {
    atomicStore(&unknown, 0u);
    sel_prefix = 0u;
  }
  workgroupBarrier();
  for (var i = lid; i < p.length; i += 256u) {
    keys[i] = order_key(values[base + i]);
#if ${REMASK}
    if (tokens[base + i] == p.mask_id) {
      atomicAdd(&unknown, 1u);
    }
#endif
  }
  workgroupBarrier();
  if (lid == 0u) {
#if ${REMASK}
    let rank = mask_len(atomicLoad(&unknown), cuts[p.step * p.rows + row]);
#else
    let rank = max(ranks[row], 0);
#endif
    rank_shared = rank;
    sel_rem = u32(rank);
  }
  for (var round = 0u; round < 4u; round++) {
    atomicStore(&counts[lid], 0u);
    workgroupBarrier();
    let shift = 24u - 8u * round;
    let fixed = fixed_bits(round);
    let prefix = sel_prefix;
    for (var i = lid; i < p.length; i += 256u) {
      let key = keys[i];
      if ((key & fixed) == prefix) {
        atomicAdd(&counts[(key >> shift) & 255u], 1u);
      }
    }
    workgroupBarrier();
    choose_digit(lid, shift);
  }
  let beyond = u32(rank_shared) >= p.length;
  let cutoff = select(key_value(sel_prefix), infinity(), beyond);
#if ${REMASK}
  for (var i = lid; i < p.length; i += 256u) {
    if (tokens[base + i] == p.mask_id) {
      let token = remasked(values[base + i], cutoff, sampled[base + i]);
      tokens[base + i] = token;
      if (p.mirror_offset > 0u) {
        tokens[base + i + p.mirror_offset] = token;
      }
    }
  }
#else
  if (lid == 0u) {
    out[row] = cutoff;
  }
#endif
}
#endif

#if ${HIST}
// Grid: (chunks of 256 * ITEMS keys, rows).
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y;
  let base = row * p.length;
  atomicStore(&counts[lid], 0u);
  if (lid == 0u) {
    atomicStore(&unknown, 0u);
  }
  workgroupBarrier();
  let shift = 24u - 8u * p.round;
  let fixed = fixed_bits(p.round);
  let prefix = atomicLoad(&state[row * 4u]);
  let start = wid.x * 256u * ${ITEMS}u;
  let end = min(start + 256u * ${ITEMS}u, p.length);
  for (var i = start + lid; i < end; i += 256u) {
    let key = order_key(values[base + i]);
    if ((key & fixed) == prefix) {
      atomicAdd(&counts[(key >> shift) & 255u], 1u);
    }
#if ${REMASK}
    if (p.round == 0u && tokens[base + i] == p.mask_id) {
      atomicAdd(&unknown, 1u);
    }
#endif
  }
  workgroupBarrier();
  let c = atomicLoad(&counts[lid]);
  if (c > 0u) {
    atomicAdd(&hist[row * BINS + lid], c);
  }
#if ${REMASK}
  if (lid == 0u && p.round == 0u) {
    atomicAdd(&state[row * 4u + 2u], atomicLoad(&unknown));
  }
#endif
}
#endif

#if ${PICK}
// state[row] = (prefix, remaining rank, unknown count, beyond). Grid: rows.
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) {
    return;  // uniform per workgroup
  }
  counts[lid] = atomicLoad(&hist[row * BINS + lid]);
  atomicStore(&hist[row * BINS + lid], 0u);  // ready for the next pass
  if (lid == 0u) {
    if (p.round == 0u) {
#if ${REMASK}
      let rank = mask_len(state[row * 4u + 2u], cuts[p.step * p.rows + row]);
#else
      let rank = max(ranks[row], 0);
#endif
      sel_prefix = 0u;
      sel_rem = u32(rank);
      state[row * 4u + 3u] = select(0u, 1u, u32(rank) >= p.length);
    } else {
      sel_prefix = state[row * 4u];
      sel_rem = state[row * 4u + 1u];
    }
  }
  workgroupBarrier();
  choose_digit(lid, 24u - 8u * p.round);
  if (lid == 0u) {
    state[row * 4u] = sel_prefix;
    state[row * 4u + 1u] = sel_rem;
#if ${REMASK}
#else
    if (p.round == 3u) {
      out[row] = select(key_value(sel_prefix), infinity(), state[row * 4u + 3u] != 0u);
    }
#endif
  }
}
#endif

#if ${APPLY}
// Grid: (chunks of 256 * ITEMS positions, rows).
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y;
  let base = row * p.length;
  let cutoff = select(key_value(state[row * 4u]), infinity(), state[row * 4u + 3u] != 0u);
  let start = wid.x * 256u * ${ITEMS}u;
  let end = min(start + 256u * ${ITEMS}u, p.length);
  for (var i = start + lid; i < end; i += 256u) {
    if (tokens[base + i] == p.mask_id) {
      let token = remasked(values[base + i], cutoff, sampled[base + i]);
      tokens[base + i] = token;
      if (p.mirror_offset > 0u) {
        tokens[base + i + p.mirror_offset] = token;
      }
    }
  }
}
#endif
