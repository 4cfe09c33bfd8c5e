// An NHWC image on a zero-bordered grid, so that a 3x3 convolution's gradients run as GEMMs
// over windows of one buffer (src/tensor/ops/conv-grad.ts: filterGradPadded, conv3x3Padded).
// x is [B, inH, inW, C], optionally read through a nearest x2 upsampling (outH = inH << up);
// out is [rows, outW + 2, C] (rows >= B * (outH + 2)), image b's pixel (y, x) at grid row
// b * (outH + 2) + y + shift, column x + shift, zero elsewhere. shift 1: a one-pixel border
// on every side; shift 0: the two spare rows and columns after the image. A tap (ky, kx) of
// a SAME conv then reads the padded image at the constant offset ky * (outW + 2) + kx from
// the padded output pixel: the window a GEMM walks with row stride C.
// Grid: (ceil((outW + 2) / COLS), rows); a workgroup writes COLS pixels of one grid row, its
// lanes over channel vectors (V = 4 channels when C % 4 == 0), so no lane divides to find
// its coordinates (integer division is scalarised on CPU adapters).
// Defines: T, VEC (C % 4 == 0), WG (lanes), COLS.

#if ${VEC}
alias XV = vec4<${T}>;
#else
alias XV = ${T};
#endif

struct Params {
  in_h: u32, in_w: u32, out_h: u32, out_w: u32,
  cv: u32, up: u32,  // C / V; 1 when reading through the x2 upsampling
  batch: u32, shift: u32,  // images, and the image's offset in the grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<XV>;
@group(0) @binding(2) var<storage, read_write> out: array<XV>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = wid.y;
  let pw = p.out_w + 2u;
  let b = r / (p.out_h + 2u);  // uniform
  // Image coordinates; below zero they wrap, so one comparison tests both sides.
  let oy = r - b * (p.out_h + 2u) - p.shift;
  let row_ok = b < p.batch && oy < p.out_h;
  // Clamped into the image for the load (the value is dropped outside it).
  let src_row = (min(b, p.batch - 1u) * p.in_h + (min(oy, p.out_h - 1u) >> p.up)) * p.in_w;
  let first = wid.x * ${COLS}u;
  let last = min(first + ${COLS}u, pw);
  for (var c = lid.x; c < p.cv; c += ${WG}u) {
    for (var px = first; px < last; px++) {
      let ox = px - p.shift;
      let v = x[(src_row + (min(ox, p.out_w - 1u) >> p.up)) * p.cv + c];
      out[(r * pw + px) * p.cv + c] = select(XV(0), v, row_ok && ox < p.out_w);
    }
  }
}
