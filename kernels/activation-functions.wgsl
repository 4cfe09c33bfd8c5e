// Snippet (no bindings, no entry point): activation functions in f32, shared by the
// standalone activation kernel (activation.wgsl) and any kernel with an activation epilogue (GEMM),
// so that each formula is written once. Prepend it to a kernel's source (src/tensor/ops/snippets.ts).

// sqrt(2 / pi)
const GELU_TANH_K: f32 = 0.7978845608028654;

// GELU, tanh approximation (JAX's default; the official MaskGIT weights use it):
// 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as x * sigmoid(2u), which
// cannot overflow into inf/inf; u is clamped where sigmoid(2u) is 0 or 1 to f32 precision.
fn gelu_tanh(x: f32) -> f32 {
  let u = clamp(GELU_TANH_K * fma(0.044715 * x, x * x, x), -20.0, 20.0);
  return x / (1.0 + exp(-2.0 * u));
}

// erfc(z) for z >= 0 (Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7), without the
// cancellation of 1 - erf(z) in the tail.
fn erfc_nonneg(z: f32) -> f32 {
  let t = 1.0 / fma(0.3275911, z, 1.0);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return poly * exp(-z * z);
}

// GELU, exact form 0.5 x (1 + erf(x / sqrt(2))) (PyTorch's default).
fn gelu_erf(x: f32) -> f32 {
  let e = erfc_nonneg(abs(x) * 0.7071067811865476);
  return select(0.5 * x * e, x - 0.5 * x * e, x >= 0.0);
}

fn relu(x: f32) -> f32 {
  return max(x, 0.0);
}

// Leaky ReLU with slope 0.2 below zero (the PatchGAN / StyleGAN discriminators' activation).
fn leaky_relu(x: f32) -> f32 {
  return max(x, 0.2 * x);
}
