// Elementwise activation, forward or backward, with ACT one of the functions of the activations
// snippet (activation-functions.wgsl, prepended by the TS op). f32 arithmetic; four elements
// per invocation when the size allows.
// - forward:  out[i] = ACT(x[i])
// - GRAD:     out[i] = g[i] * ACT'(x[i]), x being the activation's input. The derivatives follow
//   the snippet's formulas exactly (including its clamp of the tanh argument, where the
//   derivative of the clamped form is taken).
// Defines: T (storage), ACT (function name; its derivative is ACT_grad), GRAD, V4, WG.

#if ${GRAD}
// d/dx of x * sigmoid(2u), u = K (x + 0.044715 x^3): s + 2 x s (1 - s) u'(x).
fn gelu_tanh_grad(x: f32) -> f32 {
  let x2 = x * x;
  let u_raw = GELU_TANH_K * fma(0.044715 * x, x2, x);
  let u = clamp(u_raw, -20.0, 20.0);
  let s = 1.0 / (1.0 + exp(-2.0 * u));
  let du = select(0.0, GELU_TANH_K * fma(0.134145, x2, 1.0), abs(u_raw) < 20.0);
  return s + 2.0 * x * s * (1.0 - s) * du;
}

// d/dx of x Phi(x): Phi(x) + x phi(x), Phi from erfc without cancellation in either tail.
fn gelu_erf_grad(x: f32) -> f32 {
  let e = erfc_nonneg(abs(x) * 0.7071067811865476);
  let cdf = select(0.5 * e, 1.0 - 0.5 * e, x >= 0.0);
  return cdf + x * 0.3989422804014327 * exp(-0.5 * x * x);
}

fn relu_grad(x: f32) -> f32 {
  return select(0.0, 1.0, x > 0.0);
}

fn leaky_relu_grad(x: f32) -> f32 {
  return select(0.2, 1.0, x > 0.0);
}
#endif

struct Params {
  n: u32,  // in units of the access width (4 when V4)
}

@group(0) @binding(0) var<uniform> p: Params;
#if ${V4}
alias XV = vec4<${T}>;
#else
alias XV = ${T};
#endif
@group(0) @binding(1) var<storage, read> x: array<XV>;
#if ${GRAD}
@group(0) @binding(2) var<storage, read> g: array<XV>;
@group(0) @binding(3) var<storage, read_write> out: array<XV>;
#else
@group(0) @binding(2) var<storage, read_write> out: array<XV>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * ${WG}u;
  if (i >= p.n) {
    return;
  }
#if ${V4}
  let v = vec4<f32>(x[i]);
#if ${GRAD}
  let d = vec4<f32>(${ACT}_grad(v.x), ${ACT}_grad(v.y), ${ACT}_grad(v.z), ${ACT}_grad(v.w));
  out[i] = XV(vec4<f32>(g[i]) * d);
#else
  out[i] = XV(vec4<f32>(${ACT}(v.x), ${ACT}(v.y), ${ACT}(v.z), ${ACT}(v.w)));
#endif
#else
#if ${GRAD}
  out[i] = XV(f32(g[i]) * ${ACT}_grad(f32(x[i])));
#else
  out[i] = XV(${ACT}(f32(x[i])));
#endif
#endif
}
