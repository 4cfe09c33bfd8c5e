// Token + position embedding: out[b, l, :] = word[id(tokens[b, l]), :] + position[l, :].
// Ids outside [0, vocab) never read out of bounds: a negative id counts from the end once
// (the official code feeds -1 for the mask token, which reads the last row, as Python/JAX
// indexing does), then the id is clamped into [0, vocab - 1].
// Grid: x = columns (in units of the access width) / WG, y = position, z = batch, so each
// workgroup reads one token id (a uniform load) and no invocation divides.
// Defines: T (table/out storage), V4, WG.

#if ${V4}
alias XV = vec4<${T}>;
#else
alias XV = ${T};
#endif

struct Params {
  seq: u32,    // L
  cols: u32,   // hidden size in units of XV
  vocab: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> tokens: array<i32>;
@group(0) @binding(2) var<storage, read> word: array<XV>;
@group(0) @binding(3) var<storage, read> position: array<XV>;
@group(0) @binding(4) var<storage, read_write> out: array<XV>;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.cols) {
    return;
  }
  let l = gid.y;
  let row = gid.z * p.seq + l;
  var id = tokens[row];
  id = select(id, id + i32(p.vocab), id < 0);
  let w = u32(clamp(id, 0, i32(p.vocab) - 1));
  out[row * p.cols + c] = word[w * p.cols + c] + position[l * p.cols + c];
}
