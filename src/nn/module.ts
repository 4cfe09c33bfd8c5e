import type { ParamSpec, Weights } from '../maskgit/weights.js';
import { getWeight } from '../maskgit/weights.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * The module convention. A module is built from a `Weights` map and a name prefix; it looks
 * up each of its parameters as `${prefix}.${leaf}` with getWeight (shape-checked, a
 * CheckpointError naming the parameter otherwise) when it is constructed, and lists them in
 * `params()` (names and shapes, the same contract as src/maskgit/weights.ts) so that loaders,
 * checkers and training can enumerate what it reads. `forward` records GPU work and returns
 * new tensors; it never reads back and never disposes its inputs. Intermediates are the
 * caller's to scope (engine.tidy), so a training wrapper can keep them instead.
 */
export abstract class Module {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** The parameters this module (and its children) reads, in a stable order. */
  abstract params(): ParamSpec[];

  /** The full name of one of this module's parameters. */
  protected name(leaf: string): string {
    return this.prefix ? `${this.prefix}.${leaf}` : leaf;
  }

  /** Looks up `${prefix}.${leaf}`, checked against `shape`. */
  protected param(weights: Weights, leaf: string, shape: readonly number[]): Tensor {
    return getWeight(weights, this.name(leaf), shape);
  }
}
