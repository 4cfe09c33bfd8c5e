import { describeValue } from '../arguments.js';
import { ArgumentError, DisposedError, ShapeError } from '../errors.js';
import { dtypeSize, type DType, type TypedArrayFor } from './dtype.js';
import type { Engine } from './engine.js';
import type { PooledBuffer } from './pool.js';

/** GPU memory shared by a tensor and its reshaped views; returned to the pool at refs 0. */
export interface Storage {
  readonly pooled: PooledBuffer;
  refs: number;
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkShape(shape: readonly number[], what = 'shape'): void {
  if (!Array.isArray(shape)) throw new ShapeError(`${what} must be a list of dimensions, got ${describeValue(shape)}`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`${what} [${shape.join(', ')}] must hold non-negative integers`);
  }
}

/**
 * A dense row-major array on the GPU. Created by an Engine (upload, ops); freed by dispose()
 * or by the scope it was created in. Reading it back is async and flushes pending work.
 */
export class Tensor<D extends DType = DType> {
  readonly shape: readonly number[];
  readonly dtype: D;
  readonly size: number;
  readonly engine: Engine;
  /** Set by Engine.keep(): scopes never dispose this tensor. */
  kept = false;
  private storage: Storage | null;

  /** @internal Tensors are made by an Engine or by ops, not constructed directly. */
  constructor(engine: Engine, storage: Storage, shape: readonly number[], dtype: D) {
    this.engine = engine;
    this.storage = storage;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = shapeSize(shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  get byteLength(): number {
    return this.size * dtypeSize(this.dtype);
  }

  get disposed(): boolean {
    return this.storage === null;
  }

  /** @internal */
  get pooled(): PooledBuffer {
    if (!this.storage) throw new DisposedError(`tensor [${this.shape.join(', ')}] ${this.dtype} was used after dispose()`);
    return this.storage.pooled;
  }

  get buffer(): GPUBuffer {
    return this.pooled.buffer;
  }

  /** A tensor with the same data and another shape (one dimension may be -1). No copy. */
  reshape(shape: readonly number[]): Tensor<D> {
    const storage = this.storage;
    if (!storage) throw new DisposedError('reshape() of a disposed tensor');
    const resolved = resolveReshape(this.shape, shape);
    storage.refs++;
    return this.engine.adopt(storage, resolved, this.dtype);
  }

  /**
   * A view of the first `rows` entries along axis 0, sharing this tensor's memory (no copy):
   * a row-major prefix, e.g. the first C rows of an embedding table. Disposing either leaves
   * the other valid.
   */
  firstRows(rows: number): Tensor<D> {
    const storage = this.storage;
    if (!storage) throw new DisposedError('firstRows() of a disposed tensor');
    const total = this.shape[0];
    if (total === undefined || !Number.isInteger(rows) || rows < 0 || rows > total) {
      throw new ShapeError(`firstRows(${rows}) of a tensor [${this.shape.join(', ')}]: need a rank >= 1 tensor with at least ${rows} rows`);
    }
    storage.refs++;
    return this.engine.adopt(storage, [rows, ...this.shape.slice(1)], this.dtype);
  }

  /** Copies the data back to the host (f16 is widened to f32). Flushes pending GPU work. */
  read(): Promise<TypedArrayFor<D>> {
    return this.engine.read(this);
  }

  dispose(): void {
    const storage = this.storage;
    if (!storage) return;
    this.storage = null;
    storage.refs--;
    if (storage.refs === 0) this.engine.releaseStorage(storage);
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(', ')}])`;
  }
}

export function resolveReshape(from: readonly number[], to: readonly number[]): number[] {
  const size = shapeSize(from);
  const out = [...to];
  const free = out.indexOf(-1);
  if (free >= 0) {
    if (out.indexOf(-1, free + 1) >= 0) throw new ShapeError(`reshape to [${to.join(', ')}]: at most one dimension may be -1`);
    const rest = shapeSize(out.filter((_, i) => i !== free));
    if (rest === 0 || size % rest !== 0) {
      throw new ShapeError(`cannot reshape [${from.join(', ')}] (${size} elements) to [${to.join(', ')}]`);
    }
    out[free] = size / rest;
  }
  checkShape(out, 'reshape target');
  if (shapeSize(out) !== size) {
    throw new ShapeError(`cannot reshape [${from.join(', ')}] (${size} elements) to [${to.join(', ')}] (${shapeSize(out)} elements)`);
  }
  return out;
}

/**
 * Checks an op's tensor argument: a Tensor, not disposed, and (with `engine`) of that engine
 * (a tensor of another device cannot be bound). `op` and `name` make the message.
 */
export function checkOperand(op: string, name: string, value: unknown, engine?: Engine): asserts value is Tensor {
  if (!(value instanceof Tensor)) throw new ArgumentError(`${op}: ${name}`, `must be a Tensor, got ${describeValue(value)}`);
  if (value.disposed) throw new DisposedError(`${op}: ${name} [${value.shape.join(', ')}] ${value.dtype} was used after dispose()`);
  if (engine && value.engine !== engine) throw new ArgumentError(`${op}: ${name}`, 'belongs to another engine (device); tensors of one op must share an engine');
}
