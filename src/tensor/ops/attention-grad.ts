import attentionGradSource from '../../../kernels/attention_grad.wgsl';
import { ShapeError } from '../../errors.js';
import { f32 } from '../engine.js';
import { gcd, lanesPerGroup } from './attention.js';
import { defineKernel } from '../kernel.js';
import type { Tensor } from '../tensor.js';

const ATTENTION_GRAD = defineKernel('attention_grad', attentionGradSource);
/** Keys (or queries) per workgroup-memory tile. */
const TILE = 32;

export interface AttentionBackwardOptions {
  heads: number;
  /** Score scale. Default 1 / sqrt(head width) (as the forward). */
  scale?: number;
  /** false: the portable path even where subgroups are available (tests). */
  subgroups?: boolean;
}

/**
 * Queries (or keys) per workgroup: the largest of 64, 32, 16 that leaves at most a quarter of
 * the invocations past the end (L = 65 takes 16: 5 workgroups of which 15 lanes idle, not 2 of
 * 64 with 63 idle).
 */
function workgroupSize(length: number): number {
  for (const wg of [64, 32]) if (Math.ceil(length / wg) * wg <= 1.25 * length) return wg;
  return 16;
}

/**
 * The backward of attentionWithLSE(qkv, { heads }) (bidirectional): from qkv [B, L, 3H], the
 * output o [B, L, H], its gradient dout and the forward's lse [B, heads, L], the gradient of qkv
 * [B, L, 3H] (q | k | v columns). Flash-style: the probabilities are recomputed per (query, key)
 * pair, in one pass for dq and one for dk and dv, so no L x L matrix is stored. f32.
 */
export function attentionBackward(qkv: Tensor, o: Tensor, dout: Tensor, lse: Tensor, options: AttentionBackwardOptions): Tensor {
  const engine = qkv.engine;
  if (qkv.rank !== 3 || qkv.shape[2]! % 3 !== 0) throw new ShapeError(`attentionBackward: qkv must be [batch, length, 3 * hidden], got [${qkv.shape.join(', ')}]`);
  const [batch, length, width] = qkv.shape as [number, number, number];
  const hidden = width / 3;
  const heads = options.heads;
  if (!Number.isInteger(heads) || heads < 1 || hidden % heads !== 0) throw new ShapeError(`attentionBackward: ${heads} heads do not divide the hidden width ${hidden}`);
  for (const [name, t] of [['o', o], ['dout', dout]] as const) {
    if (t.shape.join() !== [batch, length, hidden].join()) throw new ShapeError(`attentionBackward: ${name} must be [${batch}, ${length}, ${hidden}], got [${t.shape.join(', ')}]`);
  }
  if (lse.shape.join() !== [batch, heads, length].join()) throw new ShapeError(`attentionBackward: lse must be [${batch}, ${heads}, ${length}], got [${lse.shape.join(', ')}]`);
  for (const [name, t] of [['qkv', qkv], ['o', o], ['dout', dout], ['lse', lse]] as const) {
    if (t.dtype !== 'f32') throw new ShapeError(`attentionBackward: ${name} is ${t.dtype}; gradients are computed in f32`);
  }
  const dqkv = engine.empty(qkv.shape);
  if (dqkv.size === 0) return dqkv;
  const headDim = hidden / heads;
  const v4 = headDim % 4 === 0;
  const unit = v4 ? 4 : 1;
  const dv = headDim / unit;
  const scale = options.scale ?? 1 / Math.sqrt(headDim);
  const wg = workgroupSize(length);
  const params = [length, (length * width) / unit, width / unit, hidden / unit, (length * hidden) / unit, hidden / unit, f32(scale * Math.LOG2E), f32(scale)];
  const workgroups: [number, number, number] = [Math.ceil(length / wg), heads, batch];
  const group = options.subgroups === false ? 0 : lanesPerGroup(engine);
  const share = group > 0 ? laneSharing(dv, group) : null;
  const none = { IS_DELTA: false, IS_DQ: false, IS_DKV: false, LOAD: '', INIT: '', BODY: '', STORE: '', LANE_SETUP: '', BLOCK: '' };
  const common = { V4: v4, DV: dv, WG: wg, TILE, SUBGROUPS: !!share, PORTABLE: !share, BK: share?.bk ?? 1 };
  engine.tidy(() => {
    const delta = engine.empty([batch, heads, length]);
    engine.run({ kernel: ATTENTION_GRAD, defines: { ...none, ...common, IS_DELTA: true }, params, inputs: [o, dout], outputs: [delta], workgroups });
    engine.run({ kernel: ATTENTION_GRAD, defines: { ...none, ...common, IS_DQ: true, ...dqStatements(dv, share) }, params, inputs: [qkv, dout, lse, delta], outputs: [dqkv], workgroups });
    engine.run({ kernel: ATTENTION_GRAD, defines: { ...none, ...common, IS_DKV: true, ...dkvStatements(dv, share) }, params, inputs: [qkv, dout, lse, delta], outputs: [dqkv], workgroups });
  });
  return dqkv;
}

const lines = (n: number, f: (c: number) => string) => Array.from({ length: n }, (_, c) => f(c)).join('\n');

/** A dot product of two unrolled vectors into `name`: a(c) . b(c) over the head's chunks. */
function dot(name: string, n: number, a: (c: number) => string, b: (c: number) => string): string {
  return [`      var ${name} = ${a(0)} * ${b(0)};`, lines(n - 1, (c) => `      ${name} = fma(${a(c + 1)}, ${b(c + 1)}, ${name});`)].join('\n');
}

/**
 * How the G lanes of a lane group share the rows of a block (as the forward does): the smallest
 * block of BK rows whose dv chunks fill whole rounds of G lanes; in round r, lane x loads chunk
 * f = r*G + x of the block (row f / dv, chunk f % dv), and chunk (t, c) reaches every lane as
 * subgroupBroadcast of round floor(f / G), lane f % G.
 */
interface LaneSharing {
  bk: number;
  setup: string;
  /** Loads round values `${name}${r}` of the block starting at row `start` of `array`. */
  load(name: string, array: string, base: string, rowStride: string, start: string): string;
  chunk(name: string, t: number, c: number): string;
}

function laneSharing(dv: number, g: number): LaneSharing {
  const bk = g / gcd(dv, g);
  const rounds = (bk * dv) / g;
  return {
    bk,
    setup: [`  let g = sg_lane % ${g}u;`, lines(rounds, (r) => `  let rt${r} = (${r * g}u + g) / ${dv}u;\n  let rc${r} = (${r * g}u + g) % ${dv}u;`)].join('\n'),
    load: (name, array, base, rowStride, start) =>
      lines(rounds, (r) => `    let ${name}${r} = ${array}[${base} + min(${start} + rt${r}, p.l - 1u) * ${rowStride} + rc${r}];`),
    chunk: (name, t, c) => {
      const f = t * dv + c;
      return `subgroupBroadcast(${name}${Math.floor(f / g)}, ${f % g}u)`;
    },
  };
}

/** dq of one query: every key's k and v rows against the query's q and dO. */
function dqStatements(dv: number, share: LaneSharing | null): Record<string, string> {
  const common = {
    LOAD: lines(dv, (c) => `  let q${c} = qkv[qb + ${c}u];\n  let do${c} = dout[ob + ${c}u];`),
    INIT: lines(dv, (c) => `  var dq${c} = FV(0.0);`),
    STORE: lines(dv, (c) => `    dqkv[qb + ${c}u] = dq${c} * p.scale;`),
  };
  if (!share) {
    return {
      ...common,
      BODY: [
        dot('sd', dv, (c) => `q${c}`, (c) => `tile_k[tb + ${c}u]`),
        dot('pd', dv, (c) => `do${c}`, (c) => `tile_v[tb + ${c}u]`),
        `      let pr = exp2(hsum(sd) * p.scale2 - lse_i);`,
        `      let ds = FV(pr * (hsum(pd) - delta_i));`,
        lines(dv, (c) => `      dq${c} = fma(ds, tile_k[tb + ${c}u], dq${c});`),
      ].join('\n'),
    };
  }
  const block = (t: number) =>
    [
      dot(`sd${t}`, dv, (c) => `q${c}`, (c) => share.chunk('kr', t, c)),
      dot(`pd${t}`, dv, (c) => `do${c}`, (c) => share.chunk('vr', t, c)),
      `      let pr${t} = select(0.0, exp2(hsum(sd${t}) * p.scale2 - lse_i), j0 + ${t}u < p.l);`,
      `      let ds${t} = FV(pr${t} * (hsum(pd${t}) - delta_i));`,
      lines(dv, (c) => `      dq${c} = fma(ds${t}, ${share.chunk('kr', t, c)}, dq${c});`),
    ].join('\n');
  return {
    ...common,
    LANE_SETUP: share.setup,
    BLOCK: [share.load('kr', 'qkv', 'kb0', 'p.qkv_row', 'j0'), share.load('vr', 'qkv', 'vb0', 'p.qkv_row', 'j0'), lines(share.bk, block)].join('\n'),
  };
}

/** dk and dv of one key: every query's q, dO, lse and D against the key's k and v. */
function dkvStatements(dv: number, share: LaneSharing | null): Record<string, string> {
  const common = {
    LOAD: lines(dv, (c) => `  let k${c} = qkv[kb + ${c}u];\n  let v${c} = qkv[vb + ${c}u];`),
    INIT: lines(dv, (c) => `  var dk${c} = FV(0.0);\n  var dv${c} = FV(0.0);`),
    STORE: lines(dv, (c) => `    dqkv[kb + ${c}u] = dk${c} * p.scale;\n    dqkv[vb + ${c}u] = dv${c};`),
  };
  if (!share) {
    return {
      ...common,
      BODY: [
        dot('sd', dv, (c) => `tile_q[tb + ${c}u]`, (c) => `k${c}`),
        dot('pd', dv, (c) => `tile_do[tb + ${c}u]`, (c) => `v${c}`),
        `      let pr = exp2(hsum(sd) * p.scale2 - tile_lse[t]);`,
        `      let ds = FV(pr * (hsum(pd) - tile_delta[t]));`,
        lines(dv, (c) => `      dv${c} = fma(FV(pr), tile_do[tb + ${c}u], dv${c});\n      dk${c} = fma(ds, tile_q[tb + ${c}u], dk${c});`),
      ].join('\n'),
    };
  }
  const block = (t: number) =>
    [
      dot(`sd${t}`, dv, (c) => share.chunk('qr', t, c), (c) => `k${c}`),
      dot(`pd${t}`, dv, (c) => share.chunk('dr', t, c), (c) => `v${c}`),
      `      let pr${t} = select(0.0, exp2(hsum(sd${t}) * p.scale2 - subgroupBroadcast(ls, ${t}u)), i0 + ${t}u < p.l);`,
      `      let ds${t} = FV(pr${t} * (hsum(pd${t}) - subgroupBroadcast(dl, ${t}u)));`,
      lines(dv, (c) => `      dv${c} = fma(FV(pr${t}), ${share.chunk('dr', t, c)}, dv${c});\n      dk${c} = fma(ds${t}, ${share.chunk('qr', t, c)}, dk${c});`),
    ].join('\n');
  return {
    ...common,
    LANE_SETUP: share.setup,
    BLOCK: [
      share.load('qr', 'qkv', 'qb0', 'p.qkv_row', 'i0'),
      share.load('dr', 'dout', 'ob0', 'p.o_row', 'i0'),
      `    let ls = lse[stat0 + min(i0 + g, p.l - 1u)];`,
      `    let dl = delta[stat0 + min(i0 + g, p.l - 1u)];`,
      lines(share.bk, block),
    ].join('\n'),
  };
}
