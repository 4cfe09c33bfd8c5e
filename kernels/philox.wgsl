// Philox4x32-10 counter-based random numbers (Salmon et al., SC'11), integer arithmetic
// only: WGSL has no 64-bit integers, so the 32x32 -> 64-bit products are built from 16-bit
// halves. Library code (no entry point), prepended to the kernels that draw noise; its
// TypeScript mirror is src/maskgit/rng.ts and the two agree bit for bit.
//
// Streams: key = (seed, purpose), counter = (index, position, step, 0). One call gives four
// 32-bit words; uniforms are (2k + 1) * 2^-24 for k = bits >> 9 (exact in f32, inside (0, 1),
// symmetric about 1/2) and Gumbel noise is -log(-log(u)), the inner log taken so that it
// stays accurate near u = 1.

fn philox_mulhilo(a: u32, b: u32) -> vec2<u32> {
  let a_lo = a & 0xffffu;
  let a_hi = a >> 16u;
  let b_lo = b & 0xffffu;
  let b_hi = b >> 16u;
  let ll = a_lo * b_lo;
  let lh = a_lo * b_hi;
  let hl = a_hi * b_lo;
  let hh = a_hi * b_hi;
  let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
  return vec2<u32>(hi, a * b);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    if (round > 0u) {
      k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
    }
    let p0 = philox_mulhilo(0xD2511F53u, c.x);
    let p1 = philox_mulhilo(0xCD9E8D57u, c.z);
    c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
  }
  return c;
}

fn philox_uniform(bits: u32) -> f32 {
  return f32(((bits >> 9u) << 1u) | 1u) * 5.9604644775390625e-8;  // 2^-24
}

// -log(u): an Exponential(1) draw. Above 1/2, -log(1 - v) = 2 atanh(v / (2 - v)) from the
// exact v = 1 - u: log near 1 is only accurate to 2^-21 absolute in WGSL, which would turn
// draws close to 1 into 0 or negative values (and Gumbel noise into inf or NaN).
fn philox_exponential(bits: u32) -> f32 {
  let u = philox_uniform(bits);
  if (u < 0.5) {
    return -log(u);
  }
  let v = 1.0 - u;
  let s = v / (2.0 - v);  // (0, 1/3]: seven odd terms reach float32 precision
  let s2 = s * s;
  var series = 1.0 / 13.0;
  series = series * s2 + 1.0 / 11.0;
  series = series * s2 + 1.0 / 9.0;
  series = series * s2 + 1.0 / 7.0;
  series = series * s2 + 1.0 / 5.0;
  series = series * s2 + 1.0 / 3.0;
  series = series * s2 + 1.0;
  return 2.0 * s * series;
}

fn philox_gumbel(bits: u32) -> f32 {
  return -log(philox_exponential(bits));
}
