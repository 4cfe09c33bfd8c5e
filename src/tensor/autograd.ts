import { ShapeError } from '../errors.js';
import type { DType } from './dtype.js';
import { add } from './ops/elementwise.js';
import { sameShape } from './shape.js';
import type { Tensor } from './tensor.js';

/**
 * Reverse-mode automatic differentiation over the engine's ops.
 *
 * A Variable wraps a tensor. Differentiable ops (src/tensor/grad/*) compute their forward
 * with the ordinary ops and, when an input requires a gradient, record a node holding a
 * backward function: gradients of the inputs from the gradient of the output, computed with
 * the same GPU ops (and backward kernels where an op has one). `backward(loss)` walks the
 * graph from the loss in reverse topological order and accumulates gradients into the
 * leaves that require them (`Variable.grad`).
 *
 * Ownership: leaves (parameters, inputs) belong to the caller. Every other Variable's value,
 * and the tensors a node saved for its backward, belong to the graph and are freed by
 * `backward` (unless `retainGraph`) or by `disposeGraph`.
 */
export class Variable<D extends DType = DType> {
  readonly value: Tensor<D>;
  /** Accumulated gradient (leaves that require one), same shape as `value`. */
  grad: Tensor | null = null;
  readonly requiresGrad: boolean;
  /** @internal The op that produced this variable; null for leaves and constants. */
  readonly node: GradNode | null;

  /** @internal Use parameter(), constant() or a differentiable op. */
  constructor(value: Tensor<D>, requiresGrad: boolean, node: GradNode | null) {
    this.value = value;
    this.requiresGrad = requiresGrad;
    this.node = node;
  }

  get shape(): readonly number[] {
    return this.value.shape;
  }

  get isLeaf(): boolean {
    return this.node === null;
  }

  /** Frees the accumulated gradient (e.g. after an optimiser step). */
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }
}

/** @internal */
export interface GradNode {
  readonly name: string;
  readonly inputs: readonly Variable[];
  /** Tensors kept only for the backward pass; freed with the graph. */
  readonly saved: readonly Tensor[];
  /** Gradients of the inputs given the output's gradient (null for inputs that need none). */
  backward(gradOutput: Tensor): readonly (Tensor | null)[];
}

/** A leaf that receives a gradient (a trainable weight). */
export function parameter<D extends DType>(value: Tensor<D>): Variable<D> {
  return new Variable(value, true, null);
}

/** A leaf without gradient (data, targets, masks). */
export function constant<D extends DType>(value: Tensor<D>): Variable<D> {
  return new Variable(value, false, null);
}

/**
 * Wraps an op's output. When an input requires a gradient, the output does too and remembers
 * how to propagate it; otherwise nothing is recorded and `saved` is freed at once.
 */
export function record<D extends DType>(
  name: string,
  value: Tensor<D>,
  inputs: readonly Variable[],
  backward: (gradOutput: Tensor) => readonly (Tensor | null)[],
  saved: readonly Tensor[] = [],
): Variable<D> {
  if (!inputs.some((v) => v.requiresGrad)) {
    for (const t of saved) t.dispose();
    // Not differentiable from here: a constant that the graph still owns (freed with it).
    return new Variable(value, false, { name, inputs, saved: [], backward: () => inputs.map(() => null) });
  }
  return new Variable(value, true, { name, inputs, saved, backward });
}

/** Variables reachable from `root` through op nodes, inputs before outputs. */
function topologicalOrder(root: Variable): Variable[] {
  const order: Variable[] = [];
  const seen = new Set<Variable>();
  // Iterative DFS: models have thousands of nodes, recursion depth would grow with them.
  const stack: { v: Variable; expanded: boolean }[] = [{ v: root, expanded: false }];
  while (stack.length) {
    const top = stack.pop()!;
    if (top.expanded) {
      order.push(top.v);
      continue;
    }
    if (seen.has(top.v)) continue;
    seen.add(top.v);
    stack.push({ v: top.v, expanded: true });
    for (const input of top.v.node?.inputs ?? []) if (!seen.has(input)) stack.push({ v: input, expanded: false });
  }
  return order;
}

export interface BackwardOptions {
  /** Gradient of the root; default ones (the root must then have one element). */
  gradOutput?: Tensor;
  /** Keep the graph (values and saved tensors) for another backward. */
  retainGraph?: boolean;
}

/** Accumulates d(root)/d(leaf) into `leaf.grad` for every reachable leaf that requires it. */
export function backward(root: Variable, options: BackwardOptions = {}): void {
  const engine = root.value.engine;
  if (!root.requiresGrad) throw new ShapeError('backward: the value does not depend on any parameter');
  let seed = options.gradOutput;
  if (!seed) {
    if (root.value.size !== 1) throw new ShapeError(`backward: the root has ${root.value.size} elements; pass gradOutput or reduce it to a scalar`);
    seed = engine.tensor([1], root.shape, root.value.dtype);
  } else if (!sameShape(seed.shape, root.shape)) {
    throw new ShapeError(`backward: gradOutput [${seed.shape.join(', ')}] must match the root [${root.shape.join(', ')}]`);
  }
  const order = topologicalOrder(root);
  const grads = new Map<Variable, Tensor>([[root, seed]]);
  for (let i = order.length - 1; i >= 0; i--) {
    const v = order[i]!;
    const g = grads.get(v);
    if (!g) continue;
    grads.delete(v);
    if (!v.node) {
      if (v.requiresGrad) accumulateLeaf(v, g);
      else g.dispose();
      continue;
    }
    const node = v.node;
    const inputGrads = engine.tidy(() => node.backward(g));
    if (inputGrads.length !== node.inputs.length) throw new Error(`autograd: ${node.name} returned ${inputGrads.length} gradients for ${node.inputs.length} inputs`);
    node.inputs.forEach((input, k) => {
      const gi = inputGrads[k];
      if (!gi) return;
      if (!input.requiresGrad) {
        gi.dispose();
        return;
      }
      if (!sameShape(gi.shape, input.shape)) {
        throw new Error(`autograd: ${node.name} gave a gradient of shape [${gi.shape.join(', ')}] for an input of shape [${input.shape.join(', ')}]`);
      }
      const prev = grads.get(input);
      if (prev) {
        grads.set(input, add(prev, gi));
        prev.dispose();
        gi.dispose();
      } else grads.set(input, gi);
    });
    if (g !== options.gradOutput) g.dispose();
  }
  if (!options.retainGraph) disposeGraph(root, order);
}

function accumulateLeaf(leaf: Variable, g: Tensor): void {
  if (leaf.grad) {
    const sum = add(leaf.grad, g);
    leaf.grad.dispose();
    g.dispose();
    leaf.grad = sum;
  } else leaf.grad = g;
}

/** Frees the values and saved tensors of every op node reachable from `root` (leaves are kept). */
export function disposeGraph(root: Variable, order: readonly Variable[] = topologicalOrder(root)): void {
  for (const v of order) {
    if (!v.node) continue;
    v.value.dispose();
    for (const t of v.node.saved) t.dispose();
  }
}
