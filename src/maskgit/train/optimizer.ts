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
  /**
   * Update every parameter in one dispatch over flat buffers (default true); false: two
   * dispatches per parameter (the path taken anyway when a parameter has no gradient), the same
   * values up to the order of the gradient norm's sum. For comparisons.
   */
  fused?: boolean;
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

/** Where one parameter's values sit in the optimizer's flat buffers (elements). */
interface Slot {
  name: string;
  variable: Variable;
  offset: number;
  decays: boolean;
}

/**
 * AdamW on the GPU, all parameters at once: the moments live in two flat buffers (the
 * parameters that decay first), and an update gathers every gradient and parameter into flat
 * buffers with copy commands, takes the global gradient norm in one pass, updates everything in
 * one dispatch and copies the parameters back. Per-dispatch cost dominates small tensors on CPU
 * adapters (a model has dozens of biases and norms), so one dispatch over all of them instead of
 * two per tensor is several times faster there. When some parameter has no gradient the update
 * falls back to a dispatch per parameter that has one (the others and their moments untouched).
 * `state()` gives per-parameter copies of the moments for checkpoints, so training resumes exactly.
 */
export class AdamW {
  readonly params: ReadonlyMap<string, Variable>;
  private readonly engine: Engine;
  private readonly options: Required<Omit<AdamWOptions, 'learningRate' | 'decays' | 'fused'>> & Pick<AdamWOptions, 'learningRate'>;
  private readonly fused: boolean;
  /** Parameters in flat order: those that decay first, then the others. */
  private readonly slots: Slot[];
  /** Elements in all; the first `decayEnd` decay. */
  private readonly total: number;
  private readonly decayEnd: number;
  private readonly m: Tensor;
  private readonly v: Tensor;
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
    this.fused = options.fused ?? true;
    const decays = options.decays ?? defaultDecays;
    for (const [name, p] of params) {
      if (p.value.dtype !== 'f32') throw new ArgumentError('params', `${name} is ${p.value.dtype}; train in f32 (export to f16 afterwards)`);
    }
    const ordered = [...params].map(([name, variable]) => ({ name, variable, decays: decays(name, variable.shape) }));
    ordered.sort((a, b) => Number(b.decays) - Number(a.decays)); // stable: the params' order within each part
    let offset = 0;
    this.slots = ordered.map((s) => {
      const slot = { ...s, offset };
      offset += s.variable.value.size;
      return slot;
    });
    this.total = offset;
    this.decayEnd = this.slots.filter((s) => s.decays).reduce((n, s) => n + s.variable.value.size, 0);
    this.m = this.engine.keep(this.engine.zeros([Math.max(1, this.total)]));
    this.v = this.engine.keep(this.engine.zeros([Math.max(1, this.total)]));
    this.partials = this.engine.keep(this.engine.zeros([params.size * NORM_GROUPS]));
  }

  learningRate(step = this.step): number {
    const lr = this.options.learningRate;
    return typeof lr === 'function' ? lr(step) : lr;
  }

  /** Partial sums of squares of `t` into partials slot `slot` (NORM_GROUPS values; unused ones stay zero). */
  private sumSquares(t: Tensor, slot: number): void {
    const groups = Math.min(NORM_GROUPS, Math.ceil(t.size / WG));
    this.engine.run({
      kernel: SUMSQ,
      defines: { T: t.dtype, WG, SUBGROUPS: this.engine.hasSubgroups },
      params: [t.size, groups, slot * NORM_GROUPS],
      inputs: [t],
      outputs: [this.partials],
      workgroups: [groups],
    });
  }

  /** The sum of the partials (a 1-element tensor). */
  private partialsTotal(): Tensor {
    const flat = this.partials.reshape([1, this.partials.size]);
    const total = sum(flat);
    flat.dispose();
    return total;
  }

  /** The squared global gradient norm as a 1-element GPU tensor (the caller disposes it). */
  gradSquaredNorm(): Tensor {
    // Partials a tensor leaves unwritten stay zero (a fused update may have used them all).
    this.engine.clear(this.partials);
    this.slots.forEach(({ variable }, slot) => {
      const g = variable.grad;
      if (g && g.size > 0) this.sumSquares(g, slot);
    });
    return this.partialsTotal();
  }

  /** One AdamW dispatch over n elements; the moments from element `base` of the flat buffers. */
  private adamw(param: Tensor, grad: Tensor, norm: Tensor, base: number, decayEnd: number, lr: number): void {
    const { beta1, beta2, eps, weightDecay, maxGradNorm } = this.options;
    this.engine.run({
      kernel: ADAMW,
      defines: { WG },
      params: [
        param.size,
        base,
        decayEnd,
        f32(lr),
        f32(beta1),
        f32(beta2),
        f32(eps),
        f32(weightDecay),
        f32(1 - beta1 ** this.step),
        f32(1 - beta2 ** this.step),
        f32(maxGradNorm),
      ],
      inputs: [grad, norm],
      outputs: [param, this.m, this.v],
      workgroups: this.engine.grid(Math.ceil(param.size / WG)),
    });
  }

  /** Applies one update from the parameters' gradients, then clears the gradients. */
  update(): void {
    const engine = this.engine;
    this.step++;
    const lr = this.learningRate(this.step - 1);
    if (!this.fused || this.total === 0 || this.slots.some((s) => !s.variable.grad)) {
      // Some parameter has no gradient: a dispatch per parameter that has one.
      const norm = this.gradSquaredNorm();
      for (const { variable, offset, decays } of this.slots) {
        const g = variable.grad;
        if (!g) continue;
        this.adamw(variable.value, g, norm, offset, decays ? variable.value.size : 0, lr);
        variable.zeroGrad();
      }
      norm.dispose();
      return;
    }
    const grads = engine.empty([this.total]);
    const values = engine.empty([this.total]);
    for (const { variable, offset } of this.slots) {
      const bytes = variable.value.size * 4;
      engine.copy(variable.grad!, 0, grads, offset * 4, bytes);
      engine.copy(variable.value, 0, values, offset * 4, bytes);
    }
    engine.clear(this.partials);
    this.sumSquares(grads, 0);
    const norm = this.partialsTotal();
    this.adamw(values, grads, norm, 0, this.decayEnd, lr);
    for (const { variable, offset } of this.slots) {
      engine.copy(values, offset * 4, variable.value, 0, variable.value.size * 4);
      variable.zeroGrad();
    }
    norm.dispose();
    grads.dispose();
    values.dispose();
  }

  /** Copies of the moments by `<param>.adam_m` / `<param>.adam_v`, for checkpoints (the caller disposes them). */
  state(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const { name, variable, offset } of this.slots) {
      for (const [suffix, flat] of [['adam_m', this.m], ['adam_v', this.v]] as const) {
        const t = this.engine.empty(variable.shape);
        this.engine.copy(flat, offset * 4, t, 0, t.size * 4);
        out.set(`${name}.${suffix}`, t);
      }
    }
    return out;
  }

  /** Restores moments saved by state() (copied into the optimizer's own tensors). */
  loadState(state: ReadonlyMap<string, Tensor>, step: number): void {
    for (const { name, variable, offset } of this.slots) {
      for (const [suffix, flat] of [['adam_m', this.m], ['adam_v', this.v]] as const) {
        const src = state.get(`${name}.${suffix}`);
        const size = variable.value.size;
        if (!src || src.size !== size) throw new ArgumentError('state', `no ${name}.${suffix} of ${size} values in the checkpoint`);
        this.engine.copy(src, 0, flat, offset * 4, size * 4);
      }
    }
    this.step = step;
  }

  dispose(): void {
    this.m.dispose();
    this.v.dispose();
    this.partials.dispose();
  }
}
