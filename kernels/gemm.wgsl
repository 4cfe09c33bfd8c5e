// GEMM: out[z] = act(op(a[z]) @ op(b[z]) + bias) + residual[z], f32 accumulation.
//   a: [.., M, K] (TRANS_A: [.., K, M]); b: [.., K, N] (TRANS_B: [.., N, K]); out: [.., M, N].
// Two layouts of the same computation, picked by src/tensor/ops/gemm-tuning.ts:
//
// LANES (CPU adapters such as lavapipe, where each workgroup runs on one CPU thread with
//   invocations as SIMD lanes and every per-lane memory access is scalarised): invocations
//   own rows (TM each, strided by W), the whole workgroup shares one block of 32 * NG
//   columns. Each k-step a lane loads its own A values (distinct per lane, so no load is
//   wasted); the B values are loaded once per subgroup (lane l of each 8 loads 4 columns) and
//   handed to every lane by a subgroup broadcast (SUBGROUP), or loaded by every lane (the
//   portable path). Accumulators are vec4s of 4 columns, TM x 8 * NG per invocation.
//   No workgroup memory, no barriers. SUBGROUP needs subgroups of at least 8 (the host checks).
// TILED (GPUs): a 16x16 workgroup computes a 64x64 tile, each invocation 4x4; A and B tiles
//   of BK k-steps are staged through workgroup memory.
//
// Defines: T (input storage type), OT (output storage type), TILED, W, TM, NG, SUBGROUP, BK,
//   TRANS_A, TRANS_B, VEC_A (A is read as vec4 along K: !TRANS_A and K % 4 == 0),
//   VEC_B (B is read as vec4: along N when !TRANS_B and N % 4 == 0, along K when TRANS_B and
//   K % 4 == 0), TAIL (K % 4 != 0: the last k-step is partial, loads past K read zero),
//   VEC_OUT (N % 4 == 0: bias, residual and out as vec4), BIAS, RESIDUAL, ACT_RELU,
//   ACT_GELU_TANH, ACT_GELU_ERF, and the binding numbers
//   BIND_BIAS, BIND_RES, BIND_OUT.
// Every read uses a clamped index and every write is guarded, so no access leaves its buffer
// (robust buffer access may be off).

struct Params {
  M: u32,
  N: u32,
  K: u32,
  K4: u32,        // number of k-steps of 4: ceil(K / 4)
  lda: u32,       // row stride of a in elements (K, or M when TRANS_A)
  ldb: u32,       // row stride of b in elements (N, or K when TRANS_B)
  z_base: u32,    // first batch index of this dispatch
  a_base: u32,    // element offset of a's first matrix (views; 0 otherwise)
  bdim: vec4<u32>,  // output batch dims, outermost first (padded with 1)
  sa: vec4<u32>,    // element strides of a over those dims (0 where broadcast)
  sb: vec4<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;
#if ${VEC_A}
@group(0) @binding(1) var<storage, read> a: array<vec4<${T}>>;
#else
@group(0) @binding(1) var<storage, read> a: array<${T}>;
#endif
#if ${VEC_B}
@group(0) @binding(2) var<storage, read> b: array<vec4<${T}>>;
#else
@group(0) @binding(2) var<storage, read> b: array<${T}>;
#endif
// With VEC_OUT (N % 4 == 0) the output side is read and written as vec4 along N.
#if ${VEC_OUT}
alias OV = vec4<${OT}>;
#else
alias OV = ${OT};
#endif
#if ${BIAS}
@group(0) @binding(${BIND_BIAS}) var<storage, read> bias: array<OV>;
#endif
#if ${RESIDUAL}
@group(0) @binding(${BIND_RES}) var<storage, read> residual: array<OV>;
#endif
@group(0) @binding(${BIND_OUT}) var<storage, read_write> out: array<OV>;

// ------------------------------------------------------------------ element access

// One element of a / b by element index (the index is in range).
fn elemA(i: u32) -> f32 {
#if ${VEC_A}
  return f32(a[i >> 2u][i & 3u]);
#else
  return f32(a[i]);
#endif
}

fn elemB(i: u32) -> f32 {
#if ${VEC_B}
  return f32(b[i >> 2u][i & 3u]);
#else
  return f32(b[i]);
#endif
}

// A[row, k] for row < M (clamped by the caller); zero when k >= K.
fn loadA(aOff: u32, row: u32, k: u32) -> f32 {
  let kc = min(k, p.K - 1u);
#if ${TRANS_A}
  let v = elemA(aOff + kc * p.lda + row);
#else
  let v = elemA(aOff + row * p.lda + kc);
#endif
  return select(0.0, v, k < p.K);
}

// B[k, n] for any n (clamped); zero when k >= K.
fn loadB(bOff: u32, k: u32, n: u32) -> f32 {
  let kc = min(k, p.K - 1u);
  let nc = min(n, p.N - 1u);
#if ${TRANS_B}
  let v = elemB(bOff + nc * p.ldb + kc);
#else
  let v = elemB(bOff + kc * p.ldb + nc);
#endif
  return select(0.0, v, k < p.K);
}

// A[row, k..k+3] for the k-step starting at k (a multiple of 4); zero past K (TAIL).
fn loadA4(aOff: u32, row: u32, k: u32) -> vec4<f32> {
#if ${VEC_A}
  return vec4<f32>(a[(aOff + row * p.lda + k) >> 2u]);
#elif ${TAIL}
  return vec4<f32>(loadA(aOff, row, k), loadA(aOff, row, k + 1u), loadA(aOff, row, k + 2u), loadA(aOff, row, k + 3u));
#elif ${TRANS_A}
  let i = aOff + k * p.lda + row;
  return vec4<f32>(elemA(i), elemA(i + p.lda), elemA(i + 2u * p.lda), elemA(i + 3u * p.lda));
#else
  let i = aOff + row * p.lda + k;
  return vec4<f32>(elemA(i), elemA(i + 1u), elemA(i + 2u), elemA(i + 3u));
#endif
}

// B[k, 4*col4 .. 4*col4 + 3]: four columns at one k (columns clamped to N - 1; zero past K).
fn loadBRow(bOff: u32, k: u32, col4: u32) -> vec4<f32> {
  let n = col4 * 4u;
#if ${TAIL}
  return vec4<f32>(loadB(bOff, k, n), loadB(bOff, k, n + 1u), loadB(bOff, k, n + 2u), loadB(bOff, k, n + 3u));
#elif ${TRANS_B}
  let last = p.N - 1u;
  let i = bOff + k;
  return vec4<f32>(elemB(i + min(n, last) * p.ldb), elemB(i + min(n + 1u, last) * p.ldb), elemB(i + min(n + 2u, last) * p.ldb), elemB(i + min(n + 3u, last) * p.ldb));
#elif ${VEC_B}
  let c4 = min(col4, (p.N >> 2u) - 1u);
  return vec4<f32>(b[((bOff + k * p.ldb) >> 2u) + c4]);
#else
  let last = p.N - 1u;
  let i = bOff + k * p.ldb;
  return vec4<f32>(elemB(i + min(n, last)), elemB(i + min(n + 1u, last)), elemB(i + min(n + 2u, last)), elemB(i + min(n + 3u, last)));
#endif
}

// B[k .. k+3, n] (one column, one k-step; n clamped; zero past K). Used with TRANS_B, where
// this is a contiguous run.
fn loadBCol(bOff: u32, k: u32, n: u32) -> vec4<f32> {
#if ${TAIL}
  return vec4<f32>(loadB(bOff, k, n), loadB(bOff, k + 1u, n), loadB(bOff, k + 2u, n), loadB(bOff, k + 3u, n));
#elif ${TRANS_B}
  let i = bOff + min(n, p.N - 1u) * p.ldb + k;
#if ${VEC_B}
  return vec4<f32>(b[i >> 2u]);
#else
  return vec4<f32>(elemB(i), elemB(i + 1u), elemB(i + 2u), elemB(i + 3u));
#endif
#else
  let i = bOff + k * p.ldb + min(n, p.N - 1u);
  return vec4<f32>(elemB(i), elemB(i + p.ldb), elemB(i + 2u * p.ldb), elemB(i + 3u * p.ldb));
#endif
}

// ------------------------------------------------------------------ epilogue

// The activation formulas come from the shared snippet kernels/activation-functions.wgsl
// (prepended by src/tensor/ops/matmul.ts), the same text as the standalone activation kernel.
fn activate(x: vec4<f32>) -> vec4<f32> {
#if ${ACT_RELU}
  return max(x, vec4<f32>(0.0));
#elif ${ACT_GELU_TANH}
  return vec4<f32>(gelu_tanh(x.x), gelu_tanh(x.y), gelu_tanh(x.z), gelu_tanh(x.w));
#elif ${ACT_GELU_ERF}
  return vec4<f32>(gelu_erf(x.x), gelu_erf(x.y), gelu_erf(x.z), gelu_erf(x.w));
#else
  return x;
#endif
}

// Applies the epilogue to out[row, col .. col + 3] and writes the columns that exist
// (the caller checks row < M and col < N).
fn store4(outOff: u32, row: u32, col: u32, v: vec4<f32>) {
  let base = outOff + row * p.N + col;
  var x = v;
#if ${VEC_OUT}
#if ${BIAS}
  x += vec4<f32>(bias[col >> 2u]);
#endif
  x = activate(x);
#if ${RESIDUAL}
  x += vec4<f32>(residual[base >> 2u]);
#endif
  out[base >> 2u] = OV(x);
#else
  let last = p.N - 1u;
#if ${BIAS}
  x += vec4<f32>(f32(bias[col]), f32(bias[min(col + 1u, last)]), f32(bias[min(col + 2u, last)]), f32(bias[min(col + 3u, last)]));
#endif
  x = activate(x);
  for (var q = 0u; q < 4u; q++) {
    if (col + q < p.N) {
#if ${RESIDUAL}
      out[base + q] = OV(x[q] + f32(residual[base + q]));
#else
      out[base + q] = OV(x[q]);
#endif
    }
  }
#endif
}

// Element offsets of batch z in a and b (numpy broadcasting over up to four batch dims).
fn batchOffsets(z: u32) -> vec2<u32> {
  var r = z;
  let c3 = r % p.bdim.w;
  r /= p.bdim.w;
  let c2 = r % p.bdim.z;
  r /= p.bdim.z;
  let c1 = r % p.bdim.y;
  let c0 = r / p.bdim.y;
  let c = vec4<u32>(c0, c1, c2, c3);
  return vec2<u32>(dot(c, p.sa) + p.a_base, dot(c, p.sb));
}

#if ${TILED}
// ------------------------------------------------------------------ TILED (GPUs)

const BK = ${BK}u;
var<workgroup> As: array<vec4<f32>, BK * 16u>;  // [k][m / 4]: rows 4m..4m+3 of the 64-row tile
var<workgroup> Bs: array<vec4<f32>, BK * 16u>;  // [k][n / 4]: columns 4n..4n+3 of the 64-column tile

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let z = wid.z + p.z_base;
  let offs = batchOffsets(z);
  let outOff = z * p.M * p.N;
  let m0 = wid.y * 64u;
  let n0 = wid.x * 64u;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    // Stage the tiles: 64 x BK elements of each, 4 * BK / 16 per invocation, zero outside.
    for (var t = 0u; t < BK / 4u; t++) {
      let e = li + t * 256u;
#if ${TRANS_A}
      let kk = e / 64u;
      let m = e % 64u;
#else
      let m = e / BK;
      let kk = e % BK;
#endif
      let row = m0 + m;
      As[kk * 16u + m / 4u][m % 4u] = select(0.0, loadA(offs.x, min(row, p.M - 1u), k0 + kk), row < p.M);
#if ${TRANS_B}
      let n = e / BK;
      let kb = e % BK;
#else
      let kb = e / 64u;
      let n = e % 64u;
#endif
      Bs[kb * 16u + n / 4u][n % 4u] = select(0.0, loadB(offs.y, k0 + kb, n0 + n), n0 + n < p.N);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let av = As[kk * 16u + lid.y];
      let bv = Bs[kk * 16u + lid.x];
      for (var r = 0u; r < 4u; r++) {
        acc[r] = fma(vec4<f32>(av[r]), bv, acc[r]);
      }
    }
    workgroupBarrier();
  }
  let col = n0 + lid.x * 4u;
  for (var r = 0u; r < 4u; r++) {
    let row = m0 + lid.y * 4u + r;
    if (row < p.M && col < p.N) {
      store4(outOff, row, col, acc[r]);
    }
  }
}

#else
// ------------------------------------------------------------------ LANES (CPU adapters)

const W = ${W}u;
const TM = ${TM}u;
const NG = ${NG}u;   // groups of 32 columns
const TN4 = NG * 8u;

alias Acc = array<array<array<vec4<f32>, 8>, NG>, TM>;

// acc[i][g][c] += sum over kk of av[i][kk] * b_kk (the 4 k-steps of one column block).
fn accumulate(acc: ptr<function, Acc>, g: u32, c: u32, av: ptr<function, array<vec4<f32>, TM>>, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>) {
  for (var i = 0u; i < TM; i++) {
    let x = (*av)[i];
    (*acc)[i][g][c] = fma(vec4<f32>(x.w), b3, fma(vec4<f32>(x.z), b2, fma(vec4<f32>(x.y), b1, fma(vec4<f32>(x.x), b0, (*acc)[i][g][c]))));
  }
}

@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32
#if ${SUBGROUP}
        , @builtin(subgroup_invocation_id) sid: u32
#endif
        ) {
  let z = wid.z + p.z_base;
  let offs = batchOffsets(z);
  let outOff = z * p.M * p.N;
  // Row blocks along x: consecutive workgroups (which run close together in time) share the
  // column block, so its B panel stays in cache while the A rows stream (1.5x at 1024^3).
  let m0 = wid.x * W * TM + li;      // this invocation's rows: m0 + i * W
  let col4 = wid.y * TN4;            // first column of the block, in units of 4
  var rows: array<u32, TM>;          // clamped for loads
  for (var i = 0u; i < TM; i++) {
    rows[i] = min(m0 + i * W, p.M - 1u);
  }
#if ${SUBGROUP}
  let lane = sid & 7u;
#endif
  // acc[i][g][c]: row i, columns 4 * (col4 + 8 * g + c) .. + 3. Every loop below indexes these
  // arrays with its own counter over their full length, so drivers unroll them completely and
  // keep the accumulators in registers.
  var acc: Acc;
  for (var k4 = 0u; k4 < p.K4; k4++) {
    let k = k4 * 4u;
    var av: array<vec4<f32>, TM>;
    for (var i = 0u; i < TM; i++) {
      av[i] = loadA4(offs.x, rows[i], k);
    }
#if ${SUBGROUP}
#if ${TRANS_B}
    // b is [N, K]: lane l reads its 4 columns of each group along the 4 k-steps at once.
    var bt: array<array<vec4<f32>, 4>, NG>;
    for (var g = 0u; g < NG; g++) {
      for (var q = 0u; q < 4u; q++) {
        bt[g][q] = loadBCol(offs.y, k, (col4 + g * 8u + lane) * 4u + q);
      }
    }
#endif
#endif
    for (var g = 0u; g < NG; g++) {
      // Rows k..k+3 of this lane's 4 columns (subgroup) of the group.
      var bl: array<vec4<f32>, 4>;
#if ${SUBGROUP}
#if ${TRANS_B}
      for (var kk = 0u; kk < 4u; kk++) {
        bl[kk] = vec4<f32>(bt[g][0][kk], bt[g][1][kk], bt[g][2][kk], bt[g][3][kk]);
      }
#else
      for (var kk = 0u; kk < 4u; kk++) {
        bl[kk] = loadBRow(offs.y, k + kk, col4 + g * 8u + lane);
      }
#endif
      // Column block c of the group comes from lane c: each accumulator takes its 4 k-steps
      // in a row (one load/store of a spilled accumulator per 4 multiply-adds).
      accumulate(&acc, g, 0u, &av, subgroupBroadcast(bl[0], 0u), subgroupBroadcast(bl[1], 0u), subgroupBroadcast(bl[2], 0u), subgroupBroadcast(bl[3], 0u));
      accumulate(&acc, g, 1u, &av, subgroupBroadcast(bl[0], 1u), subgroupBroadcast(bl[1], 1u), subgroupBroadcast(bl[2], 1u), subgroupBroadcast(bl[3], 1u));
      accumulate(&acc, g, 2u, &av, subgroupBroadcast(bl[0], 2u), subgroupBroadcast(bl[1], 2u), subgroupBroadcast(bl[2], 2u), subgroupBroadcast(bl[3], 2u));
      accumulate(&acc, g, 3u, &av, subgroupBroadcast(bl[0], 3u), subgroupBroadcast(bl[1], 3u), subgroupBroadcast(bl[2], 3u), subgroupBroadcast(bl[3], 3u));
      accumulate(&acc, g, 4u, &av, subgroupBroadcast(bl[0], 4u), subgroupBroadcast(bl[1], 4u), subgroupBroadcast(bl[2], 4u), subgroupBroadcast(bl[3], 4u));
      accumulate(&acc, g, 5u, &av, subgroupBroadcast(bl[0], 5u), subgroupBroadcast(bl[1], 5u), subgroupBroadcast(bl[2], 5u), subgroupBroadcast(bl[3], 5u));
      accumulate(&acc, g, 6u, &av, subgroupBroadcast(bl[0], 6u), subgroupBroadcast(bl[1], 6u), subgroupBroadcast(bl[2], 6u), subgroupBroadcast(bl[3], 6u));
      accumulate(&acc, g, 7u, &av, subgroupBroadcast(bl[0], 7u), subgroupBroadcast(bl[1], 7u), subgroupBroadcast(bl[2], 7u), subgroupBroadcast(bl[3], 7u));
#else
      for (var c = 0u; c < 8u; c++) {
        let n4 = col4 + g * 8u + c;
        accumulate(&acc, g, c, &av, loadBRow(offs.y, k, n4), loadBRow(offs.y, k + 1u, n4), loadBRow(offs.y, k + 2u, n4), loadBRow(offs.y, k + 3u, n4));
      }
#endif
    }
  }
  for (var i = 0u; i < TM; i++) {
    let row = m0 + i * W;
    if (row < p.M) {
      for (var g = 0u; g < NG; g++) {
        for (var c = 0u; c < 8u; c++) {
          let col = (col4 + g * 8u + c) * 4u;
          if (col < p.N) {
            store4(outOff, row, col, acc[i][g][c]);
          }
        }
      }
    }
  }
}
#endif
