// A codebook learned by exponential moving averages (van den Oord et al. 2017, appendix;
// Razavi et al. 2019), with Laplace smoothing and restarts of dead codes. f32 throughout.
// For a batch of N latent vectors z with nearest codes t (from the forward pass):
// - ACCUMULATE: grid (K), lanes over D / V. Code k sums the z assigned to it (scanning t in
//   order: deterministic), then counts[k] = decay * counts[k] + (1 - decay) * n_k,
//   sums[k] = decay * sums[k] + (1 - decay) * sum_k; idle[k] = 0 if used, else idle[k] + 1.
// - TOTAL: one workgroup: total = sum of counts (a fixed-order tree: deterministic).
// - UPDATE: grid (K). The Laplace-smoothed count (counts[k] + eps) / (total + K eps) * total
//   (no division by zero for unused codes) divides the sum: codebook[k] = sums[k] / smoothed.
//   A code unused for `patience` steps (or every code when `reseed_all`) restarts at a
//   pseudo-random z of the batch: codebook[k] = sums[k] = z[j], counts[k] = 1, idle[k] = 0,
//   with j = hash(seed, step, k) mod N (the same on every adapter).
// Each pass writes only its own code's entries, and TOTAL runs between the passes that write
// and read the counts, so no workgroup reads what another writes.
// Defines: VEC (D % 4 == 0), WG, ACCUMULATE / TOTAL / UPDATE.

#if ${VEC}
alias FV = vec4<f32>;
#else
alias FV = f32;
#endif

struct Params {
  n: u32,          // latent vectors in the batch
  k: u32,          // codes
  dv: u32,         // D / V
  decay: f32,
  eps: f32,
  patience: u32,   // steps without use before a restart (0: never)
  seed: u32,
  step: u32,
  reseed_all: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// A 32-bit integer hash (PCG output permutation of an LCG step).
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn code_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}

#if ${ACCUMULATE}
@group(0) @binding(1) var<storage, read> tokens: array<i32>;
@group(0) @binding(2) var<storage, read> z: array<FV>;
@group(0) @binding(3) var<storage, read_write> counts: array<f32>;
@group(0) @binding(4) var<storage, read_write> sums: array<FV>;
@group(0) @binding(5) var<storage, read_write> idle: array<u32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let k = code_index(wid, nwg);
  if (k >= p.k) {
    return;
  }
  for (var d = lid.x; d < p.dv; d += ${WG}u) {
    var acc = FV(0.0);
    var used = 0.0;
    for (var n = 0u; n < p.n; n++) {
      if (tokens[n] == i32(k)) {  // the same for every lane: a uniform branch
        acc += z[n * p.dv + d];
        used += 1.0;
      }
    }
    let at = k * p.dv + d;
    sums[at] = p.decay * sums[at] + (1.0 - p.decay) * acc;
    if (d == 0u) {
      counts[k] = p.decay * counts[k] + (1.0 - p.decay) * used;
      idle[k] = select(idle[k] + 1u, 0u, used > 0.0);
    }
  }
}
#endif

#if ${TOTAL}
@group(0) @binding(1) var<storage, read> counts: array<f32>;
@group(0) @binding(2) var<storage, read_write> total: array<f32>;

var<workgroup> partial: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var k = lid; k < p.k; k += ${WG}u) {
    s += counts[k];
  }
  partial[lid] = s;
  workgroupBarrier();
  for (var w = ${WG}u / 2u; w > 0u; w = w / 2u) {
    if (lid < w) {
      partial[lid] += partial[lid + w];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    total[0] = partial[0];
  }
}
#endif

#if ${UPDATE}
@group(0) @binding(1) var<storage, read> z: array<FV>;
@group(0) @binding(2) var<storage, read> total: array<f32>;
@group(0) @binding(3) var<storage, read_write> counts: array<f32>;
@group(0) @binding(4) var<storage, read_write> sums: array<FV>;
@group(0) @binding(5) var<storage, read_write> idle: array<u32>;
@group(0) @binding(6) var<storage, read_write> codebook: array<FV>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let k = code_index(wid, nwg);
  if (k >= p.k) {
    return;
  }
  let restart = p.reseed_all != 0u || (p.patience > 0u && idle[k] >= p.patience);
  let j = pcg(pcg(pcg(p.seed) ^ p.step) ^ k) % p.n;
  let all = total[0];
  let smoothed = (counts[k] + p.eps) / (all + f32(p.k) * p.eps) * all;
  // Every lane reads counts[k] and idle[k] above before lane 0 rewrites them below.
  workgroupBarrier();
  for (var d = lid.x; d < p.dv; d += ${WG}u) {
    let at = k * p.dv + d;
    if (restart) {
      let v = z[j * p.dv + d];
      codebook[at] = v;
      sums[at] = v;
    } else if (smoothed > 0.0) {  // 0 only before any count exists (the caller reseeds first)
      codebook[at] = sums[at] / smoothed;
    }
  }
  if (restart && lid.x == 0u) {
    counts[k] = 1.0;
    idle[k] = 0u;
  }
}
#endif
