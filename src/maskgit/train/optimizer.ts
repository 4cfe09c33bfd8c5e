import adamwSource from '../../../kernels/adamw.wgsl';
import sumsqSource from '../../../kernels/sumsq.wgsl';
import { ArgumentError } from '../../errors.js';
import type { Variable } from '../../tensor/autograd.js';
import { f32, type Engine } from '../../tensor/engine.js';
import { defineKernel } from '../../tensor/kernel.js';
import { sum } from '../../tensor/ops/reduce.js';
import type { Tensor } from '../../tensor/tensor.js';

const ADAMW = defineKernel('adamw', adamwSource);
const SUMSQ = defineKernel('sumsq', sumsqSource);
const WG = 256;
const NORM_GROUPS = 64; // partial sums per tensor

export type LearningRate = number | ((step: number) => number);

export interface AdamWOptions {
  learningRate: LearningRate;
  /** Official MaskGIT config: (0.9, 0.96). */
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (official: 0.045). */
  weightDecay?: number;
  /** Which parameters decay (default: matrices and conv kernels, not biases, norms or embeddings). */
  decays?: (name: string, shape: readonly number[]) => boolean;
  /** Clip the global gradient norm to this value (0 = no clipping). Default 1. */
  maxGradNorm?: number;
}

/** Linear warm-up to `peak`, then cosine decay to `final` at `total` steps. */
export function warmupCosine(options: { peak: number; warmup: number; total: number; final?: number }): (step: number) => number {
  const { peak, warmup, total } = options;
  const final = options.final ?? 0;
  return (step) => {
    if (step < warmup) return (peak * (step + 1)) / warmup;
    const t = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
    return final + 0.5 * (peak - final) * (1 + Math.cos(Math.PI * t));
  };
}

const defaultDecays = (name: string, shape: readonly number[]) =>
  shape.length >= 2 && name.endsWith('.weight');

/**
 * AdamW on the GPU: one clipping-norm pass (one dispatch per parameter plus one) and one
 * update dispatch per parameter. The moments live on the GPU; `state()` exposes them for
 * checkpoints so training can resume exactly.
 */
export class AdamW {
  readonly params: ReadonlyMap<string, Variable>;
  private readonly engine: Engine;
  private readonly options: Required<Omit<AdamWOptions, 'learningRate' | 'decays'>> & Pick<AdamWOptions, 'learningRate'>;
  private readonly decays: (name: string, shape: readonly number[]) => boolean;
  private readonly moments = new Map<string, { m: Tensor; v: Tensor }>();
  private readonly partials: Tensor;
  /** Steps taken so far. */
  step = 0;

  constructor(params: ReadonlyMap<string, Variable>, options: AdamWOptions) {
    const first = params.values().next().value as Variable | undefined;
    if (!first) throw new ArgumentError('params', 'AdamW needs at least one parameter');
    this.engine = first.value.engine;
    this.params = params;
    this.options = {
      learningRate: options.learningRate,
      beta1: options.beta1 ?? 0.9,
      beta2: options.beta2 ?? 0.999,
      eps: options.eps ?? 1e-8,
      weightDecay: options.weightDecay ?? 0,
      maxGradNorm: options.maxGradNorm ?? 1,
    };
    for (const [name, value] of Object.entries(this.options)) {
      if (typeof value === 'number' && !(Number.isFinite(value) && value >= 0)) throw new ArgumentError(name, `must be a finite number >= 0, got ${value}`);
    }
    this.decays = options.decays ?? defaultDecays;
    for (const [name, p] of params) {
      if (p.value.dtype !== 'f32') throw new ArgumentError('params', `${name} is ${p.value.dtype}; train in f32 (export to f16 afterwards)`);
      this.moments.set(name, { m: this.engine.keep(this.engine.zeros(p.shape)), v: this.engine.keep(this.engine.zeros(p.shape)) });
    }
    this.partials = this.engine.keep(this.engine.zeros([params.size * NORM_GROUPS]));
  }

  learningRate(step = this.step): number {
    const lr = this.options.learningRate;
    return typeof lr === 'function' ? lr(step) : lr;
  }

  /** The squared global gradient norm as a 1-element GPU tensor (the caller disposes it). */
  gradSquaredNorm(): Tensor {
    const engine = this.engine;
    let slot = 0;
    for (const [, p] of this.params) {
      const g = p.grad;
      if (g && g.size > 0) {
        const groups = Math.min(NORM_GROUPS, Math.ceil(g.size / WG));
        engine.run({
          kernel: SUMSQ,
          defines: { T: g.dtype, WG, SUBGROUPS: engine.hasSubgroups },
          params: [g.size, groups, slot * NORM_GROUPS],
          inputs: [g],
          outputs: [this.partials],
          workgroups: [groups],
        });
        // Slots past `groups` were zeroed at construction and are never written.
      } else engine.clear(this.partials, slot * NORM_GROUPS * 4, NORM_GROUPS * 4);
      slot++;
    }
    const flat = this.partials.reshape([1, this.partials.size]);
    const total = sum(flat);
    flat.dispose();
    return total;
  }

  /** Applies one update from the parameters' gradients, then clears the gradients. */
  update(): void {
    const engine = this.engine;
    this.step++;
    const { beta1, beta2, eps, weightDecay, maxGradNorm } = this.options;
    const lr = this.learningRate(this.step - 1);
    const norm = this.gradSquaredNorm();
    for (const [name, p] of this.params) {
      const g = p.grad;
      if (!g) continue;
      const { m, v } = this.moments.get(name)!;
      engine.run({
        kernel: ADAMW,
        defines: { WG },
        params: [
          p.value.size,
          f32(lr),
          f32(beta1),
          f32(beta2),
          f32(eps),
          f32(this.decays(name, p.shape) ? weightDecay : 0),
          f32(1 - beta1 ** this.step),
          f32(1 - beta2 ** this.step),
          f32(maxGradNorm),
        ],
        inputs: [g, norm],
        outputs: [p.value, m, v],
        workgroups: engine.grid(Math.ceil(p.value.size / WG)),
      });
      p.zeroGrad();
    }
    norm.dispose();
  }

  /** Moments by `<param>.adam_m` / `<param>.adam_v`, for checkpoints. */
  state(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, { m, v }] of this.moments) {
      out.set(`${name}.adam_m`, m);
      out.set(`${name}.adam_v`, v);
    }
    return out;
  }

  /** Restores moments saved by state() (copied into the optimizer's own tensors). */
  loadState(state: ReadonlyMap<string, Tensor>, step: number): void {
    for (const [name, { m, v }] of this.moments) {
      for (const [suffix, target] of [['adam_m', m], ['adam_v', v]] as const) {
        const src = state.get(`${name}.${suffix}`);
        if (!src || src.size !== target.size) throw new ArgumentError('state', `no ${name}.${suffix} of ${target.size} values in the checkpoint`);
        this.engine.copy(src, 0, target, 0, target.byteLength);
      }
    }
    this.step = step;
  }

  dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.partials.dispose();
  }
}
