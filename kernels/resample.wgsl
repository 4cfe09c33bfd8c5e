// Resampling of NHWC images by 2 in each direction: nearest-neighbour upsampling (UP) or
// 2x2 pooling (POOL), the result times a run-time scale (average pooling: 0.25; the
// gradients: 2x2 sums and upsampling times 0.25 are the adjoints of each other). Grid: (ceil(out_w / COLS), B * out_h); a workgroup writes COLS
// output pixels of one row, lanes running over channel vectors (V = 4 channels when
// C % 4 == 0), so no lane divides to find its coordinates.
// Defines: T (storage type), VEC, WG (lanes), COLS (pixels per workgroup), UP / POOL.

#if ${VEC}
alias XV = vec4<${T}>;
alias FV = vec4<f32>;
#else
alias XV = ${T};
alias FV = f32;
#endif

struct Params {
  in_h: u32, in_w: u32, out_h: u32, out_w: u32,
  cv: u32,  // channels / V
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<XV>;
@group(0) @binding(2) var<storage, read_write> out: array<XV>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y;  // b * out_h + oy
  let b = row / p.out_h;  // uniform
  let oy = row - b * p.out_h;
  let first = wid.x * ${COLS}u;
  let last = min(first + ${COLS}u, p.out_w);
  for (var cv = lid.x; cv < p.cv; cv += ${WG}u) {
    for (var ox = first; ox < last; ox++) {
#if ${UP}
      let v = XV(FV(x[((b * p.in_h + (oy >> 1u)) * p.in_w + (ox >> 1u)) * p.cv + cv]) * p.scale);
#else
      let top = ((b * p.in_h + 2u * oy) * p.in_w + 2u * ox) * p.cv + cv;
      let below = top + p.in_w * p.cv;
      let v = XV((FV(x[top]) + FV(x[top + p.cv]) + FV(x[below]) + FV(x[below + p.cv])) * p.scale);
#endif
      out[(row * p.out_w + ox) * p.cv + cv] = v;
    }
  }
}
