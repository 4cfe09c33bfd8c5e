// The gradient of the word table of a token embedding (kernels/embedding.wgsl): a scatter-add
// dword[id(n)] += g[n] over the N = B*L token positions n, with repeated ids (the mask token is
// most of a training batch). WGSL has no float atomics, and atomics would add in a different
// order on every run; instead the positions are sorted by id with a stable counting sort and
// each table row sums its positions in position order, so the result is the same on every
// run and adapter. Ids are mapped as the forward maps them (negative counts from the end once,
// then clamped into [0, vocab)). Passes, selected by a define:
// - IS_COUNT: one invocation per chunk of positions; counts[id * chunks + k] = positions of
//   chunk k with that id (counts zeroed beforehand; each (id, k) cell has one writer).
// - IS_SCAN: one workgroup; exclusive prefix sum of counts in place, in (id, chunk) order, so
//   cell (id, k) becomes where chunk k's positions with that id start in the sorted order.
// - IS_SCATTER: one invocation per chunk, its positions in order: order[cell++] = n. Afterwards
//   cell (id, chunks - 1) holds the end of id's positions (the start is the previous id's end).
// - IS_SUM: grid (ceil(cols / WG), vocab); dword[v, c] = sum of g[n, c] over id v's positions.
// Defines: V4 (IS_SUM), WG, and one of IS_COUNT, IS_SCAN, IS_SCATTER, IS_SUM.

#if ${V4}
alias FV = vec4<f32>;
#else
alias FV = f32;
#endif

struct Params {
  n: u32,       // token positions
  chunk: u32,   // positions per chunk
  chunks: u32,
  vocab: u32,
  cols: u32,    // hidden size in units of FV (IS_SUM)
}

@group(0) @binding(0) var<uniform> p: Params;

fn token_row(raw: i32) -> u32 {
  let id = select(raw, raw + i32(p.vocab), raw < 0);
  return u32(clamp(id, 0, i32(p.vocab) - 1));
}

#if ${IS_COUNT}
@group(0) @binding(1) var<storage, read> tokens: array<i32>;
@group(0) @binding(2) var<storage, read_write> counts: array<u32>;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let k = gid.x;
  if (k >= p.chunks) {
    return;
  }
  let last = min((k + 1u) * p.chunk, p.n);
  for (var i = k * p.chunk; i < last; i++) {
    let cell = token_row(tokens[i]) * p.chunks + k;
    counts[cell] = counts[cell] + 1u;
  }
}
#endif

#if ${IS_SCAN}
@group(0) @binding(1) var<storage, read_write> counts: array<u32>;

var<workgroup> totals: array<u32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  let cells = p.vocab * p.chunks;
  let per = (cells + ${WG}u - 1u) / ${WG}u;
  let first = min(lid * per, cells);
  let last = min(first + per, cells);
  var sum = 0u;
  for (var i = first; i < last; i++) {
    sum += counts[i];
  }
  totals[lid] = sum;
  workgroupBarrier();
  var running = 0u;
  for (var s = 0u; s < lid; s++) {
    running += totals[s];
  }
  for (var i = first; i < last; i++) {
    let c = counts[i];
    counts[i] = running;
    running += c;
  }
}
#endif

#if ${IS_SCATTER}
@group(0) @binding(1) var<storage, read> tokens: array<i32>;
@group(0) @binding(2) var<storage, read_write> counts: array<u32>;
@group(0) @binding(3) var<storage, read_write> order: array<u32>;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let k = gid.x;
  if (k >= p.chunks) {
    return;
  }
  let last = min((k + 1u) * p.chunk, p.n);
  for (var i = k * p.chunk; i < last; i++) {
    let cell = token_row(tokens[i]) * p.chunks + k;
    let at = counts[cell];
    order[at] = i;
    counts[cell] = at + 1u;
  }
}
#endif

#if ${IS_SUM}
@group(0) @binding(1) var<storage, read> g: array<FV>;
@group(0) @binding(2) var<storage, read> ends: array<u32>;
@group(0) @binding(3) var<storage, read> order: array<u32>;
@group(0) @binding(4) var<storage, read_write> dword: array<FV>;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let v = gid.y;
  if (c >= p.cols) {
    return;
  }
  let last_cell = p.chunks - 1u;
  let end = ends[v * p.chunks + last_cell];
  var start = 0u;
  if (v > 0u) {
    start = ends[(v - 1u) * p.chunks + last_cell];
  }
  var acc = FV(0.0);
  for (var i = start; i < end; i++) {
    acc += g[order[i] * p.cols + c];
  }
  dword[v * p.cols + c] = acc;
}
#endif
