import attentionSource from '../../../kernels/attention.wgsl';
import { ShapeError } from '../../errors.js';
import { f32, type Engine } from '../engine.js';
import { defineKernel } from '../kernel.js';
import type { Tensor } from '../tensor.js';

const ATTENTION = defineKernel('attention', attentionSource);
/** Queries per workgroup (one per invocation). */
const WG = 64;
/** Workgroup memory for the portable path's k and v tiles (the WebGPU default minimum). */
const TILE_BYTES = 16384;
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
  /**
   * @internal Lanes that share k/v loads on the subgroup path (default: 8, or 4 where the
   * smallest subgroup is smaller). Tests force 4 to exercise subgroups larger than a group.
   */
  laneGroup?: 4 | 8;
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
 * attention(qkv) for training: also returns each query's log-sum-exp of its scaled scores in
 * base 2, lse [B, heads, L] f32, from which the backward (attentionBackward) recomputes the
 * probabilities without storing them.
 */
export function attentionWithLSE(qkv: Tensor, options: AttentionOptions): { out: Tensor; lse: Tensor } {
  if (qkv.rank !== 3 || qkv.shape[2]! % 3 !== 0) {
    throw new ShapeError(`attention: qkv must be [batch, length, 3 * hidden], got [${qkv.shape.join(', ')}]`);
  }
  const [batch, length, width] = qkv.shape as [number, number, number];
  const hidden = width / 3;
  const view = (col: number): HeadsView => ({ tensor: qkv, batchStride: length * width, rowStride: width, colOffset: col });
  const lse = qkv.engine.empty([batch, options.heads, length]);
  const out = recordAttention(qkv.engine, view(0), view(hidden), view(2 * hidden), batch, length, length, hidden, qkv.dtype, options, lse);
  return { out, lse };
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
  lse?: Tensor,
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
  const group = options.subgroups === false ? 0 : Math.min(lanesPerGroup(engine), options.laneGroup ?? 8);
  const causal = options.causal ?? false;
  const spec = attentionSpec(headDim / unit, group, causal, tileKeys(engine, headDim * 4));
  engine.run({
    kernel: ATTENTION,
    defines: { T: dtype, V4: v4, WG, CAUSAL: causal, LSE: !!lse, ...spec },
    params: [lq, lk, Math.max(0, lk - lq), 0, ...strides, f32(scale)],
    inputs: [q.tensor, k.tensor, v.tensor],
    outputs: lse ? [out, lse] : [out],
    workgroups: [Math.ceil(lq / WG), heads, batch],
  });
  return out;
}

/**
 * Lanes that share k/v loads through subgroupBroadcast: 8 or 4, at most the adapter's
 * smallest subgroup size; 0 (portable path) without subgroups or a known minimum size.
 */
export function lanesPerGroup(engine: Engine): number {
  const min = engine.info.subgroupMinSize;
  if (!engine.hasSubgroups || min === undefined) return 0;
  return min >= 8 ? 8 : min >= 4 ? 4 : 0;
}

/** Keys per workgroup-memory tile on the portable path: k and v rows of f32 within TILE_BYTES, at most 64. */
function tileKeys(engine: Engine, rowBytes: number): number {
  const budget = Math.min(TILE_BYTES, engine.device.limits.maxComputeWorkgroupStorageSize);
  return Math.max(1, Math.min(64, Math.floor(budget / (2 * rowBytes))));
}

export function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * The specialization for a head of `dv` chunks (vec4 or scalar), bidirectional or causal:
 * block sizes and the unrolled statement lists of kernels/attention.wgsl. `g` lanes share
 * k/v loads through subgroupBroadcast (0: the portable path, with tiles of `tile` keys).
 */
function attentionSpec(dv: number, g: number, causal: boolean, tile: number): Record<string, string | number | boolean> {
  const lines = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\n');
  const common = {
    DV: dv,
    TILE: tile,
    LOAD_Q: lines(dv, (c) => `  let q${c} = FV(q_in[qb + ${c}u]) * p.scale;`),
    INIT_ACC: lines(dv, (c) => `  var a${c} = FV(0.0);`),
    STORE: lines(dv, (c) => `    out[ob + ${c}u] = XV(a${c} * inv);`),
  };
  if (g === 0) {
    // One key of the workgroup-memory tile, folded into the online softmax.
    const tileKey = [
      `      var d = q0 * tile_k[tb];`,
      lines(dv - 1, (c) => `      d = fma(q${c + 1}, tile_k[tb + ${c + 1}u], d);`),
      causal ? `      let s = select(MASKED, hsum(d), j0 + t <= limit);` : `      let s = hsum(d);`,
      `      let m_new = max(m, s);`,
      `      let alpha = exp2(m - m_new);`,
      `      let w = exp2(s - m_new);`,
      `      l = fma(l, alpha, w);`,
      lines(dv, (c) => `      a${c} = fma(FV(w), tile_v[tb + ${c}u], a${c} * alpha);`),
      `      m = m_new;`,
    ].join('\n');
    return { ...common, BK: 1, SUBGROUPS: false, PORTABLE: true, TILE_KEY: tileKey, LANE_SETUP: '', SCORES: '', RESCALE: '', ACCUMULATE: '' };
  }
  // The smallest block of keys whose k (or v) chunks fill whole rounds of g lanes. In round r,
  // lane group member x loads chunk f = r*g + x of the block (key f / dv, chunk f % dv).
  const bk = g / gcd(dv, g);
  const rounds = (bk * dv) / g;
  const chunk = (kind: 'k' | 'v', t: number, c: number) => {
    const f = t * dv + c;
    return `subgroupBroadcast(${kind}r${Math.floor(f / g)}, ${f % g}u)`;
  };
  const rowLoads = (kind: 'k' | 'v') =>
    lines(rounds, (r) => `    let ${kind}r${r} = FV(${kind}_in[${kind}b0 + min(j0 + kt${r}, kv_end - 1u) * p.${kind}_row + kc${r}]);`);
  const dot = (t: number) =>
    [`    var d${t} = q0 * ${chunk('k', t, 0)};`, lines(dv - 1, (c) => `    d${t} = fma(q${c + 1}, ${chunk('k', t, c + 1)}, d${t});`)].join('\n');
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
    ...common,
    BK: bk,
    SUBGROUPS: true,
    PORTABLE: false,
    TILE_KEY: '',
    LANE_SETUP: [`  let g = sg_lane % ${g}u;`, lines(rounds, (r) => `  let kt${r} = (${r * g}u + g) / ${dv}u;\n  let kc${r} = (${r * g}u + g) % ${dv}u;`)].join('\n'),
    SCORES: scores,
    RESCALE: lines(dv, (c) => `    a${c} *= alpha;`),
    ACCUMULATE: accumulate,
  };
}
