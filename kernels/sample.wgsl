// One MaskGIT decode step's sampling and confidence, one workgroup per (image, position)
// row of the logits. Positions whose token is known (not the mask id; the class token
// included) keep it with confidence +inf. Elsewhere, over the codebook slice 0..C-1 of the
// (guided) logits l:
//   sampled    = argmax_v l_v / T + G_v       (Gumbel-max = a draw from softmax(l / T); T = 0:
//                                             argmax of l, no noise), over the entries kept
//                                             by top-k / top-p when those are on;
//   confidence = log softmax(l)[sampled] + choice_scale * G   (untempered, as officially).
// Guidance: l = u + s * (c - u), c the row, u the row uncond_offset further (the second
// half of a 2B batch). Top-k keeps entries with fewer than k strictly larger (ties kept);
// top-p then keeps entries whose strictly larger kept entries hold less than p of the
// (tempered, top-k renormalised) mass. Both thresholds are found by bisection over the
// order-preserving u32 keys of the logits, so no row is sorted (32 reductions each).
// Without filtering, one pass over the row makes both the draw and the normaliser.
// Noise: kernels/philox.wgsl (prepended), stream (seed, 0) at counter
// (v / 4, position, step, 0) word v % 4 for the draw, (seed, 1) at (0, position, step, 0)
// word 0 for the confidence.
// Defines: T (logits storage type), WG.

struct Params {
  rows: u32,          // B * L
  length: u32,        // L
  vocab: u32,         // logits row stride
  codebook: u32,      // C
  uncond_offset: u32, // elements from a cond row to its uncond row; 0 = no guidance
  mask_id: i32,
  step: u32,
  top_k: u32,         // 0 or >= C: off
  temperature: f32,   // 0: argmax
  choice_scale: f32,  // choice_temperature * (1 - ratio)
  guidance: f32,      // s
  top_p: f32,         // >= 1: off
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<${T}>;
@group(0) @binding(2) var<storage, read> tokens: array<i32>;
@group(0) @binding(3) var<storage, read> seeds: array<u32>;
@group(0) @binding(4) var<storage, read_write> sampled: array<i32>;
@group(0) @binding(5) var<storage, read_write> confidence: array<f32>;

const LOWEST: f32 = -3.4028234663852886e38;

var<workgroup> red_m: array<f32, ${WG}>;
var<workgroup> red_s: array<f32, ${WG}>;
var<workgroup> red_i: array<u32, ${WG}>;
var<workgroup> result_f: vec2<f32>;
var<workgroup> result_u: u32;
var<workgroup> row_token: i32;

// +inf (a var, so that no constant expression overflows f32).
fn infinity() -> f32 {
  var bits = 0x7f800000u;
  return bitcast<f32>(bits);
}

fn logit(base: u32, v: u32) -> f32 {
  let c = f32(logits[base + v]);
  if (p.uncond_offset == 0u) {
    return c;
  }
  let u = f32(logits[base + p.uncond_offset + v]);
  return u + p.guidance * (c - u);
}

// Order-preserving map of f32 to u32 (a < b as floats => key(a) < key(b)).
fn order_key(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
}

// Reductions: every invocation stores its partial, invocation 0 folds them in index order
// and publishes the result. Two barriers, no subgroup size assumed, the same fold order
// (hence the same result) on every adapter.

fn wg_sum(x: f32, lid: u32) -> f32 {
  red_s[lid] = x;
  workgroupBarrier();
  if (lid == 0u) {
    var total = 0.0;
    for (var k = 0u; k < ${WG}u; k++) {
      total += red_s[k];
    }
    result_f.x = total;
  }
  workgroupBarrier();
  return result_f.x;
}

// Combines per-invocation online softmax partials (max m, sum of exp(l - m) s) into the
// row's (max, sum of exp(l - max)).
fn wg_softmax(m: f32, s: f32, lid: u32) -> vec2<f32> {
  red_m[lid] = m;
  red_s[lid] = s;
  workgroupBarrier();
  if (lid == 0u) {
    var top = LOWEST;
    for (var k = 0u; k < ${WG}u; k++) {
      top = max(top, red_m[k]);
    }
    var total = 0.0;
    for (var k = 0u; k < ${WG}u; k++) {
      total += red_s[k] * exp(red_m[k] - top);
    }
    result_f = vec2<f32>(top, total);
  }
  workgroupBarrier();
  return result_f;
}

// The index of the largest score; the smallest index among equals.
fn wg_argmax(score: f32, i: u32, lid: u32) -> u32 {
  red_m[lid] = score;
  red_i[lid] = i;
  workgroupBarrier();
  if (lid == 0u) {
    var best = LOWEST;
    var best_i = 0xffffffffu;
    for (var k = 0u; k < ${WG}u; k++) {
      let v = red_m[k];
      let j = red_i[k];
      if (v > best || (v == best && j < best_i)) {
        best = v;
        best_i = j;
      }
    }
    result_u = best_i;
  }
  workgroupBarrier();
  return result_u;
}

// Smallest key K such that the kept entries (key >= floor_key) with key > K hold less than
// `limit` of `weight` (count or tempered mass): 32 bisection steps over the u32 keys.
fn bisect(base: u32, lid: u32, floor_key: u32, limit: f32, by_mass: bool, top: f32) -> u32 {
  var lo = 0u;
  var hi = 0xffffffffu;
  for (var it = 0u; it < 32u; it++) {
    let mid = lo + (hi - lo) / 2u;
    var part = 0.0;
    for (var v = lid; v < p.codebook; v += ${WG}u) {
      let l = logit(base, v);
      let key = order_key(l);
      if (key > mid && key >= floor_key) {
        if (by_mass) {
          part += exp((l - top) / p.temperature);
        } else {
          part += 1.0;
        }
      }
    }
    if (wg_sum(part, lid) < limit) {
      hi = mid;
    } else {
      lo = mid + 1u;
    }
  }
  return lo;
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) {
    return;  // uniform per workgroup
  }
  if (lid == 0u) {
    row_token = tokens[row];
  }
  let token = workgroupUniformLoad(&row_token);
  if (token != p.mask_id) {
    if (lid == 0u) {
      sampled[row] = token;
      confidence[row] = infinity();  // known positions are never re-masked
    }
    return;
  }
  let image = row / p.length;
  let position = row - image * p.length;
  let base = row * p.vocab;
  let seed = seeds[image];

  // Untempered log-normaliser: per-invocation online max / sum of exponentials, combined.
  // Without top-k / top-p the draw shares this pass over the row.
  let sampling = p.temperature > 0.0;
  let filtered = sampling && ((p.top_k > 0u && p.top_k < p.codebook) || p.top_p < 1.0);
  var m = LOWEST;
  var s = 0.0;
  var best = LOWEST;
  var best_v = 0xffffffffu;
  let blocks = (p.codebook + 3u) / 4u;
  for (var q = lid; q < blocks; q += ${WG}u) {
    var words = vec4<u32>(0u);
    if (sampling && !filtered) {
      words = philox4x32_10(vec4<u32>(q, position, p.step, 0u), vec2<u32>(seed, 0u));
    }
    for (var w = 0u; w < 4u; w++) {
      let v = q * 4u + w;
      if (v < p.codebook) {
        let l = logit(base, v);
        if (l > m) {
          s = s * exp(m - l) + 1.0;
          m = l;
        } else {
          s += exp(l - m);
        }
        if (!filtered) {
          var score = l;
          if (sampling) {
            score = l / p.temperature + philox_gumbel(words[w]);
          }
          if (score > best) {
            best = score;
            best_v = v;
          }
        }
      }
    }
  }
  let softmax = wg_softmax(m, s, lid);
  let top = softmax.x;
  let total = softmax.y;

  if (filtered) {
    // Entries with key >= keep_key take part in the draw.
    var keep_key = 0u;
    if (p.top_k > 0u && p.top_k < p.codebook) {
      keep_key = bisect(base, lid, 0u, f32(p.top_k), false, top);
    }
    if (p.top_p < 1.0) {
      var kept_mass = 0.0;
      for (var v = lid; v < p.codebook; v += ${WG}u) {
        let l = logit(base, v);
        if (order_key(l) >= keep_key) {
          kept_mass += exp((l - top) / p.temperature);
        }
      }
      let mass = wg_sum(kept_mass, lid);
      keep_key = max(keep_key, bisect(base, lid, keep_key, p.top_p * mass, true, top));
    }
    // Gumbel-max draw over the kept entries, four entries per Philox block.
    best = LOWEST;
    best_v = 0xffffffffu;
    for (var q = lid; q < blocks; q += ${WG}u) {
      let words = philox4x32_10(vec4<u32>(q, position, p.step, 0u), vec2<u32>(seed, 0u));
      for (var w = 0u; w < 4u; w++) {
        let v = q * 4u + w;
        if (v < p.codebook) {
          let l = logit(base, v);
          let score = l / p.temperature + philox_gumbel(words[w]);
          if (order_key(l) >= keep_key && score > best) {
            best = score;
            best_v = v;
          }
        }
      }
    }
  }
  var choice = wg_argmax(best, best_v, lid);
  if (lid == 0u) {
    if (choice >= p.codebook) {
      choice = 0u;  // only when every logit is NaN
    }
    var conf = (logit(base, choice) - top) - log(total);
    if (p.choice_scale != 0.0) {
      let words = philox4x32_10(vec4<u32>(0u, position, p.step, 0u), vec2<u32>(seed, 1u));
      conf += p.choice_scale * philox_gumbel(words.x);
    }
    sampled[row] = i32(choice);
    confidence[row] = conf;
  }
}
