import vqEmaSource from '../../../kernels/vq_ema.wgsl';
import { ArgumentError, ShapeError } from '../../errors.js';
import { f32, type Engine, type ParamWord } from '../../tensor/engine.js';
import { defineKernel } from '../../tensor/kernel.js';
import { lanesFor } from '../../tensor/ops/groupnorm.js';
import type { Tensor } from '../../tensor/tensor.js';

const VQ_EMA = defineKernel('vq_ema', vqEmaSource);
const TOTAL_WG = 64;
const NO_MODE = { ACCUMULATE: false, TOTAL: false, UPDATE: false };

export interface EmaCodebookOptions {
  /** EMA decay of the cluster sizes and sums. Default 0.99. */
  decay?: number;
  /** Laplace smoothing of the cluster sizes. Default 1e-5. */
  eps?: number;
  /** A code not chosen for this many steps restarts at a random latent of the batch (0: never). Default 100. */
  patience?: number;
  /** Seeds the restarts' choice of latents. Default 0. */
  seed?: number;
}

/**
 * The codebook of a VQ tokenizer learned by exponential moving averages of the latents
 * assigned to each code (no gradient, no optimizer), with Laplace-smoothed cluster sizes and
 * restarts of dead codes from random encoder outputs of the batch (kernels/vq_ema.wgsl).
 * Everything stays on the GPU; `state()` exposes the EMA statistics for checkpoints.
 */
export class EmaCodebook {
  readonly engine: Engine;
  readonly size: number;
  readonly dim: number;
  /** [K, D] f32: the codebook the quantizer reads, updated in place. */
  readonly codebook: Tensor;
  /** [K] EMA cluster sizes. */
  readonly counts: Tensor;
  /** [K, D] EMA sums of the assigned latents. */
  readonly sums: Tensor;
  /** [K] u32 steps since each code was last chosen. */
  readonly idle: Tensor<'u32'>;
  readonly decay: number;
  readonly eps: number;
  readonly patience: number;
  readonly seed: number;
  private readonly total: Tensor;

  constructor(codebook: Tensor, options: EmaCodebookOptions = {}) {
    if (codebook.rank !== 2 || codebook.dtype !== 'f32') throw new ShapeError(`EmaCodebook: the codebook must be f32 [K, D], got ${codebook.dtype} [${codebook.shape.join(', ')}]`);
    this.engine = codebook.engine;
    [this.size, this.dim] = codebook.shape as [number, number];
    this.codebook = codebook;
    this.decay = options.decay ?? 0.99;
    this.eps = options.eps ?? 1e-5;
    this.patience = options.patience ?? 100;
    this.seed = options.seed ?? 0;
    if (!(this.decay >= 0 && this.decay < 1)) throw new ArgumentError('decay', `must be in [0, 1), got ${this.decay}`);
    if (!(this.eps > 0)) throw new ArgumentError('eps', `must be > 0, got ${this.eps}`);
    if (!Number.isInteger(this.patience) || this.patience < 0) throw new ArgumentError('patience', `must be an integer >= 0, got ${this.patience}`);
    const e = this.engine;
    this.counts = e.keep(e.zeros([this.size]));
    this.sums = e.keep(e.zeros([this.size, this.dim]));
    this.idle = e.keep(e.zeros([this.size], 'u32'));
    this.total = e.keep(e.zeros([1]));
  }

  /**
   * One update from a batch: `latents` [..., D] (the encoder's outputs, f32) and their nearest
   * codes `tokens` (i32, one per latent vector). `step` keys the restarts' random choices.
   */
  update(latents: Tensor, tokens: Tensor<'i32'>, step: number): void {
    const n = this.checkLatents('update', latents);
    if (tokens.dtype !== 'i32' || tokens.size !== n) throw new ShapeError(`EmaCodebook.update: ${n} latents need ${n} i32 tokens, got ${tokens.dtype} [${tokens.shape.join(', ')}]`);
    if (n === 0) return;
    const e = this.engine;
    const { vec, wg, params } = this.dispatchInfo(n, step, false);
    e.run({ kernel: VQ_EMA, defines: { ...NO_MODE, VEC: vec, WG: wg, ACCUMULATE: true }, params, inputs: [tokens, latents], outputs: [this.counts, this.sums, this.idle], workgroups: e.grid(this.size) });
    e.run({ kernel: VQ_EMA, defines: { ...NO_MODE, VEC: false, WG: TOTAL_WG, TOTAL: true }, params, inputs: [this.counts], outputs: [this.total], workgroups: [1] });
    this.runUpdate(latents, vec, wg, params);
  }

  /** Restarts every code at a random latent of the batch (initialisation from the first batch). */
  reseed(latents: Tensor, step: number): void {
    const n = this.checkLatents('reseed', latents);
    if (n === 0) throw new ShapeError('EmaCodebook.reseed: no latents to seed the codebook from');
    const { vec, wg, params } = this.dispatchInfo(n, step, true);
    this.runUpdate(latents, vec, wg, params);
  }

  private checkLatents(op: string, latents: Tensor): number {
    const D = this.dim;
    if (latents.dtype !== 'f32' || latents.shape[latents.rank - 1] !== D) {
      throw new ShapeError(`EmaCodebook.${op}: latents must be f32 [..., ${D}], got ${latents.dtype} [${latents.shape.join(', ')}]`);
    }
    return latents.size / D;
  }

  private dispatchInfo(n: number, step: number, reseedAll: boolean): { vec: boolean; wg: number; params: ParamWord[] } {
    const vec = this.dim % 4 === 0;
    const dv = vec ? this.dim / 4 : this.dim;
    return {
      vec,
      wg: lanesFor(dv),
      params: [n, this.size, dv, f32(this.decay), f32(this.eps), this.patience, this.seed >>> 0, step >>> 0, reseedAll ? 1 : 0],
    };
  }

  private runUpdate(latents: Tensor, vec: boolean, wg: number, params: ParamWord[]): void {
    const e = this.engine;
    e.run({
      kernel: VQ_EMA,
      defines: { ...NO_MODE, VEC: vec, WG: wg, UPDATE: true },
      params,
      inputs: [latents, this.total],
      outputs: [this.counts, this.sums, this.idle, this.codebook],
      workgroups: e.grid(this.size),
    });
  }

  /** The EMA statistics by name (`<prefix>.ema_counts`, `.ema_sums`, `.ema_idle`), for checkpoints. */
  state(prefix: string): Map<string, Tensor> {
    return new Map<string, Tensor>([
      [`${prefix}.ema_counts`, this.counts],
      [`${prefix}.ema_sums`, this.sums],
      [`${prefix}.ema_idle`, this.idle],
    ]);
  }

  /** Restores statistics saved by state() (copied into this codebook's own tensors). */
  loadState(state: ReadonlyMap<string, Tensor>, prefix: string): void {
    for (const [name, target] of this.state(prefix)) {
      const src = state.get(name);
      if (!src || src.size !== target.size || src.dtype !== target.dtype) {
        throw new ArgumentError('state', `no ${name} of ${target.size} ${target.dtype} values in the checkpoint`);
      }
      this.engine.copy(src, 0, target, 0, target.byteLength);
    }
  }

  dispose(): void {
    for (const t of [this.counts, this.sums, this.idle, this.total]) t.dispose();
  }
}
