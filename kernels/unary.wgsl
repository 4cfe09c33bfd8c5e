// Elementwise unary op out = OP(x) (x of type V), with two runtime scalars alpha and beta
// that some ops use (scale, affine, powers). Four elements per invocation when VEC4.
// Defines: T (storage type), OP (expression in x, alpha, beta), WG, VEC4.

#if ${VEC4}
alias V = vec4<${T}>;
#else
alias V = ${T};
#endif

struct Params {
  n: u32,          // invocations (elements, or elements / 4)
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<V>;
@group(0) @binding(2) var<storage, read_write> out: array<V>;

fn op(x: V, alpha: V, beta: V) -> V {
  return ${OP};
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * ${WG}u;
  if (i < p.n) {
    out[i] = op(a[i], V(${T}(p.alpha)), V(${T}(p.beta)));
  }
}
