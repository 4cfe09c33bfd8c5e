// Elementwise binary op out = OP(x, y) with numpy broadcasting.
// The host collapses the broadcast to at most three dimensions [D0, D1, D2]; the dispatch
// grid is that box (x: D2 in units of V, y: D1, z: D0), so no invocation divides to find its
// coordinates (integer division is slow on CPU adapters). Shapes that do not collapse that far
// take the GENERAL path, which derives coordinates for RANK dimensions.
// Defines: T (storage type), OP (expression in x and y), WG, VEC4 (4 elements along D2),
// GENERAL, RANK.

#if ${VEC4}
alias V = vec4<${T}>;
#else
alias V = ${T};
#endif

struct Params {
  d0: u32, d1: u32, d2: u32, n: u32,
  sa0: u32, sa1: u32, sa2: u32, _pa: u32,   // strides of a in units of V (0 = broadcast)
  sb0: u32, sb1: u32, sb2: u32, _pb: u32,
  shape: array<vec4<u32>, 2>,    // GENERAL: output shape, up to rank 8
  stride_a: array<vec4<u32>, 2>, // GENERAL: element strides over the output shape
  stride_b: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<V>;
@group(0) @binding(2) var<storage, read> b: array<V>;
@group(0) @binding(3) var<storage, read_write> out: array<V>;

fn op(x: V, y: V) -> V {
  return ${OP};
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
#if ${GENERAL}
  let i = gid.x + gid.y * nwg.x * ${WG}u;
  if (i >= p.n) {
    return;
  }
  var rem = i;
  var ia = 0u;
  var ib = 0u;
  for (var d = ${RANK}u; d > 0u; d--) {  // RANK is constant: this unrolls
    let k = d - 1u;
    let dim = p.shape[k / 4u][k % 4u];
    let coord = rem % dim;
    rem = rem / dim;
    ia += coord * p.stride_a[k / 4u][k % 4u];
    ib += coord * p.stride_b[k / 4u][k % 4u];
  }
  out[i] = op(a[ia], b[ib]);
#else
  let x = gid.x;
  if (x >= p.d2) {
    return;
  }
  let o = (gid.z * p.d1 + gid.y) * p.d2 + x;
  out[o] = op(a[gid.z * p.sa0 + gid.y * p.sa1 + x * p.sa2], b[gid.z * p.sb0 + gid.y * p.sb1 + x * p.sb2]);
#endif
}
