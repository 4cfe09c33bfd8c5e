import attentionSource from '../../../kernels/attention.wgsl';
import { ShapeError } from '../../errors.js';
import { f32, type Engine } from '../engine.js';
import { defineKernel } from '../kernel.js';
import type { Tensor } from '../tensor.js';

const ATTENTION = defineKernel('attention', attentionSource);
/** Queries per workgroup (one per invocation). */
const WG = 64;
/** Keys per block of the online softmax on the portable path. */
const PORTABLE_BK = 1;
const LOG2E = Math.LOG2E;

export interface AttentionOptions {
  /** Number of heads; the hidden width must be a multiple of it. */
  heads: number;
  /** Query i sees keys j <= i + (kv length - query length) only. Default false (bidirectional). */
  causal?: boolean;
  /** Score scale. Default 1 / sqrt(head width). */
  scale?: number;
  /** false: take the portable path even where subgroups are available (for tests and comparisons). */
  subgroups?: boolean;
}

export interface KVAttentionOptions extends AttentionOptions {
  /** Keys/values actually present (a KV cache allocated for more). Default: all of k's rows. */
  kvLength?: number;
}

/** A [batch, rows, heads * headDim] operand seen through strides (in elements). */
interface HeadsView {
  tensor: Tensor;
  batchStride: number;
  rowStride: number;
  colOffset: number;
}

/**
 * Bidirectional (or causal) multi-head self-attention over a fused QKV projection:
 * qkv [B, L, 3H] whose columns are q | k | v, each head-major (head h of q is columns
 * h*d .. (h+1)*d - 1) -> [B, L, H], heads concatenated the same way (ready for the output
 * projection). softmax(q k^T * scale) v with an online softmax: the scores are never stored.
 */
export function attention(qkv: Tensor, options: AttentionOptions): Tensor {
  if (qkv.rank !== 3 || qkv.shape[2]! % 3 !== 0) {
    throw new ShapeError(`attention: qkv must be [batch, length, 3 * hidden], got [${qkv.shape.join(', ')}]`);
  }
  const [batch, length, width] = qkv.shape as [number, number, number];
  const hidden = width / 3;
  const view = (col: number): HeadsView => ({ tensor: qkv, batchStride: length * width, rowStride: width, colOffset: col });
  return recordAttention(qkv.engine, view(0), view(hidden), view(2 * hidden), batch, length, length, hidden, qkv.dtype, options);
}

/**
 * Attention of queries q [B, Lq, H] over keys k and values v [B, Lk, H] (heads head-major
 * along H) -> [B, Lq, H]. With `kvLength`, only the first kvLength rows of k and v are used
 * (a KV cache allocated for more); with `causal`, query i sees keys j <= i + kvLength - Lq.
 */
export function attentionQKV(q: Tensor, k: Tensor, v: Tensor, options: KVAttentionOptions): Tensor {
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
    if (t.rank !== 3) throw new ShapeError(`attentionQKV: ${name} must be [batch, length, hidden], got [${t.shape.join(', ')}]`);
  }
  const [batch, lq, hidden] = q.shape as [number, number, number];
  if (k.shape[0] !== batch || v.shape[0] !== batch || k.shape[2] !== hidden || v.shape[2] !== hidden || k.shape[1] !== v.shape[1]) {
    throw new ShapeError(
      `attentionQKV: expected k and v [${batch}, Lk, ${hidden}] with the same Lk, got k [${k.shape.join(', ')}] and v [${v.shape.join(', ')}]`,
    );
  }
  if (k.dtype !== q.dtype || v.dtype !== q.dtype) throw new ShapeError(`attentionQKV: dtypes differ (q ${q.dtype}, k ${k.dtype}, v ${v.dtype})`);
  const rows = k.shape[1]!;
  const lk = options.kvLength ?? rows;
  if (!Number.isInteger(lk) || lk < 0 || lk > rows) throw new ShapeError(`attentionQKV: kvLength ${lk} must be an integer in [0, ${rows}]`);
  if (options.causal && lk < lq) throw new ShapeError(`attentionQKV: causal attention needs kvLength (${lk}) >= the query length (${lq})`);
  const dense = (t: Tensor): HeadsView => ({ tensor: t, batchStride: t.shape[1]! * hidden, rowStride: hidden, colOffset: 0 });
  return recordAttention(q.engine, dense(q), dense(k), dense(v), batch, lq, lk, hidden, q.dtype, options);
}

function recordAttention(
  engine: Engine,
  q: HeadsView,
  k: HeadsView,
  v: HeadsView,
  batch: number,
  lq: number,
  lk: number,
  hidden: number,
  dtype: Tensor['dtype'],
  options: AttentionOptions,
): Tensor {
  const heads = options.heads;
  if (!Number.isInteger(heads) || heads < 1 || hidden % heads !== 0) {
    throw new ShapeError(`attention: ${heads} heads do not divide the hidden width ${hidden}`);
  }
  if (dtype !== 'f32' && dtype !== 'f16') throw new ShapeError(`attention: inputs are ${dtype}; cast them to f32 or f16`);
  const headDim = hidden / heads;
  const out = engine.empty([batch, lq, hidden], dtype);
  if (out.size === 0) return out;
  const o: HeadsView = { tensor: out, batchStride: lq * hidden, rowStride: hidden, colOffset: 0 };
  const views = [q, k, v, o];
  const v4 = headDim % 4 === 0 && views.every((x) => x.batchStride % 4 === 0 && x.rowStride % 4 === 0 && x.colOffset % 4 === 0);
  const unit = v4 ? 4 : 1;
  const strides = views.flatMap((x) => [x.batchStride / unit, x.rowStride / unit, x.colOffset / unit, 0]);
  const scale = (options.scale ?? 1 / Math.sqrt(headDim)) * LOG2E;
  const group = options.subgroups === false ? 0 : lanesPerGroup(engine);
  const causal = options.causal ?? false;
  const spec = attentionSpec(headDim / unit, group, causal);
  engine.run({
    kernel: ATTENTION,
    defines: { T: dtype, V4: v4, WG, CAUSAL: causal, ...spec },
    params: [lq, lk, Math.max(0, lk - lq), 0, ...strides, f32(scale)],
    inputs: [q.tensor, k.tensor, v.tensor],
    outputs: [out],
    workgroups: [Math.ceil(lq / WG), heads, batch],
  });
  return out;
}

/**
 * Lanes that share k/v loads through subgroupBroadcast: 8 or 4, at most the adapter's
 * smallest subgroup size; 0 (portable path) without subgroups or a known minimum size.
 */
function lanesPerGroup(engine: Engine): number {
  const min = engine.info.subgroupMinSize;
  if (!engine.hasSubgroups || min === undefined) return 0;
  return min >= 8 ? 8 : min >= 4 ? 4 : 0;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * The specialization for a head of `dv` chunks (vec4 or scalar) with lane groups of `g`
 * lanes (0: portable), bidirectional or causal: block size and the unrolled statement lists of kernels/attention.wgsl.
 */
function attentionSpec(dv: number, g: number, causal: boolean): Record<string, string | number | boolean> {
  const lines = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\n');
  // Subgroup path: the smallest block whose k (or v) chunks fill whole rounds of g lanes.
  const bk = g > 0 ? g / gcd(dv, g) : PORTABLE_BK;
  const rounds = g > 0 ? (bk * dv) / g : 0;
  const chunk = (kind: 'k' | 'v', t: number, c: number) => {
    if (g === 0) return `FV(${kind}_in[${kind}b${t} + ${c}u])`;
    const f = t * dv + c;
    return `subgroupBroadcast(${kind}r${Math.floor(f / g)}, ${f % g}u)`;
  };
  const rowLoads = (kind: 'k' | 'v') =>
    g > 0
      ? lines(rounds, (r) => `    let ${kind}r${r} = FV(${kind}_in[${kind}b0 + min(j0 + kt${r}, kv_end - 1u) * p.${kind}_row + kc${r}]);`)
      : lines(bk, (t) => `    let ${kind}b${t} = ${kind}b0 + min(j0 + ${t}u, kv_end - 1u) * p.${kind}_row;`);
  const dot = (t: number) =>
    [`    var d${t} = q0 * ${chunk('k', t, 0)};`, ...Array.from({ length: dv - 1 }, (_, c) => `    d${t} = fma(q${c + 1}, ${chunk('k', t, c + 1)}, d${t});`)].join('\n');
  const visible = (t: number) => `j0 + ${t}u < kv_end` + (causal ? ` && j0 + ${t}u <= limit` : '');
  const scores = [
    rowLoads('k'),
    lines(bk, dot),
    lines(bk, (t) => `    let s${t} = select(MASKED, hsum(d${t}), ${visible(t)});`),
    `    var m_new = max(m, s0);`,
    lines(bk - 1, (t) => `    m_new = max(m_new, s${t + 1});`),
  ].join('\n');
  const accumulate = [
    rowLoads('v'),
    lines(bk, (t) => `    let w${t} = exp2(s${t} - m_new);`),
    `    l += ${Array.from({ length: bk }, (_, t) => `w${t}`).join(' + ')};`,
    lines(bk, (t) => lines(dv, (c) => `    a${c} = fma(FV(w${t}), ${chunk('v', t, c)}, a${c});`)),
  ].join('\n');
  return {
    DV: dv,
    BK: bk,
    SUBGROUPS: g > 0,
    LOAD_Q: lines(dv, (c) => `  let q${c} = FV(q_in[qb + ${c}u]) * p.scale;`),
    INIT_ACC: lines(dv, (c) => `  var a${c} = FV(0.0);`),
    LANE_SETUP:
      g > 0
        ? [`  let g = sg_lane % ${g}u;`, lines(rounds, (r) => `  let kt${r} = (${r * g}u + g) / ${dv}u;\n  let kc${r} = (${r * g}u + g) % ${dv}u;`)].join('\n')
        : '',
    SCORES: scores,
    RESCALE: lines(dv, (c) => `    a${c} *= alpha;`),
    ACCUMULATE: accumulate,
    STORE: lines(dv, (c) => `    out[ob + ${c}u] = XV(a${c} * inv);`),
  };
}
