// AdamW over n parameter values (one tensor, or every parameter gathered into one flat buffer),
// with global-norm gradient clipping:
//   g' = g * min(1, max_norm / ||all grads||)     (||.|| from sumsq[0]; max_norm 0 = no clipping)
//   m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
//   p -= lr * ((m / bc1) / (sqrt(v / bc2) + eps) + wd * p)     (bc = 1 - b^t)
// The moments are read at base + i of the optimizer's flat buffers; values i < decay_end get the
// weight decay (the optimizer puts the parameters that decay first). The clip factor is computed
// from a GPU value, so a training step needs no readback.
// Defines: WG.

struct Params {
  n: u32,
  base: u32,
  decay_end: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  bias_correction1: f32,
  bias_correction2: f32,
  max_norm: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> sumsq: array<f32>;
@group(0) @binding(3) var<storage, read_write> param: array<f32>;
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * ${WG}u;
  if (i >= p.n) {
    return;
  }
  let norm = sqrt(sumsq[0]);
  var clip = 1.0;
  if (p.max_norm > 0.0 && norm > p.max_norm) {
    clip = p.max_norm / norm;
  }
  let g = grad[i] * clip;
  let j = p.base + i;
  let mi = p.beta1 * m[j] + (1.0 - p.beta1) * g;
  let vi = p.beta2 * v[j] + (1.0 - p.beta2) * g * g;
  m[j] = mi;
  v[j] = vi;
  let update = (mi / p.bias_correction1) / (sqrt(vi / p.bias_correction2) + p.eps);
  let wd = select(0.0, p.weight_decay, i < p.decay_end);
  param[i] = param[i] - p.lr * (update + wd * param[i]);
}
