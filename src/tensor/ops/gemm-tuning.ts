// The one place where GEMM tile configurations are chosen (kernels/gemm.wgsl).
import type { Engine } from '../engine.js';

/** What the heuristic needs to know about the adapter. */
export interface GemmAdapter {
  /** A CPU implementation (lavapipe/llvmpipe, SwiftShader): workgroups run on CPU threads. */
  cpu: boolean;
  /** Subgroup operations are enabled and every subgroup has at least 8 invocations. */
  subgroupsOf8: boolean;
}

/**
 * LANES: invocations own rows (rowsPerLane each, strided by the workgroup size) and share one
 * block of `cols` columns; no workgroup memory. Made for CPU adapters (see gemm.wgsl).
 * TILED: 16x16 invocations, a 64x64 output tile, A/B staged in workgroup memory every `bk`
 * k-steps. Made for GPUs.
 */
export type GemmConfig =
  | { kind: 'lanes'; workgroupSize: number; rowsPerLane: number; cols: number; subgroups: boolean }
  | { kind: 'tiled'; bk: number };

export interface GemmShape {
  M: number;
  N: number;
  K: number;
  batch: number;
}

export function gemmAdapter(engine: Engine): GemmAdapter {
  const { vendor, architecture, device, description } = engine.info;
  const cpu = /llvmpipe|lavapipe|swiftshader|software|\bcpu\b/i.test([vendor, architecture, device, description].join(' '));
  const minSize = engine.info.subgroupMinSize ?? 0;
  return { cpu, subgroupsOf8: engine.hasSubgroups && minSize >= 8 };
}

const LANE_WORKGROUP = 8;
/**
 * Rows per lane and their throughput relative to the best, measured on lavapipe (2-core
 * AVX-512 host, 32 columns, f32, model shapes and 1024^3): 4 rows ~30 GFLOP/s, 2 rows ~0.8x,
 * 1 row ~0.6x. 8 rows spill twice as many accumulators (~0.75x) and take ~2x longer to
 * compile (LLVM, seconds on first use), so they are not offered.
 */
const ROWS_PER_LANE: readonly [number, number][] = [
  [4, 1.0],
  [2, 0.8],
  [1, 0.6],
];
const LANE_COLS = 32;
const TILED: GemmConfig = { kind: 'tiled', bk: 16 };

/** Every configuration the heuristic can pick (tests run each of them). */
export function gemmCandidates(): GemmConfig[] {
  const out: GemmConfig[] = [TILED];
  for (const subgroups of [true, false]) {
    for (const [rowsPerLane] of ROWS_PER_LANE) out.push({ kind: 'lanes', workgroupSize: LANE_WORKGROUP, rowsPerLane, cols: LANE_COLS, subgroups });
  }
  return out;
}

/** Rows per lane with the least estimated time: padded rows of the last block / throughput. */
function rowsPerLane(M: number): number {
  let best = ROWS_PER_LANE[0]![0];
  let bestCost = Infinity;
  for (const [tm, speed] of ROWS_PER_LANE) {
    const rows = LANE_WORKGROUP * tm;
    const cost = (Math.ceil(M / rows) * rows) / speed;
    if (cost < bestCost) {
      bestCost = cost;
      best = tm;
    }
  }
  return best;
}

export function chooseGemmConfig(adapter: GemmAdapter, shape: GemmShape): GemmConfig {
  if (!adapter.cpu) return TILED;
  return { kind: 'lanes', workgroupSize: LANE_WORKGROUP, rowsPerLane: rowsPerLane(shape.M), cols: LANE_COLS, subgroups: adapter.subgroupsOf8 };
}
