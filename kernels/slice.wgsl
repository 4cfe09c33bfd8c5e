// Columns [start, start + width) of a row-major [rows, cols] array: out[r, c] = x[r, start + c].
// Grid: x = output columns / WG, y and z = rows (2-D when there are more than 65535).
// Defines: T (storage), WG.

struct Params {
  rows: u32,
  cols: u32,   // input row length
  start: u32,
  width: u32,  // output row length
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read_write> out: array<${T}>;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x;
  let r = wid.y + wid.z * nwg.y;
  if (c >= p.width || r >= p.rows) {
    return;
  }
  out[r * p.width + c] = x[r * p.cols + p.start + c];
}
