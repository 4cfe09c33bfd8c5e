import { checkInteger, checkOneOf, describeValue, optionsObject } from '../arguments.js';
import { ArgumentError, DeviceError, ShapeError } from '../errors.js';
import { getGPU, NO_ADAPTER_HELP } from '../gpu/provider.js';
import { assertDType, dtypeSize, type DType, type HostArray, type TypedArrayFor } from './dtype.js';
import { f16ArrayToF32, f32ArrayToF16 } from './half.js';
import { pipelineKey, renderWGSL, type Defines, type Kernel } from './kernel.js';
import { BufferPool, type PoolStats } from './pool.js';
import { checkOperand, checkShape, shapeSize, Tensor, type Storage } from './tensor.js';
import { TexturePool, type TextureStats } from './texture-pool.js';

/** A uniform word: plain numbers are u32; wrap others with f32() or i32(). */
export type ParamWord = number | { readonly f32: number } | { readonly i32: number };
export const f32 = (value: number): ParamWord => ({ f32: value });
export const i32 = (value: number): ParamWord => ({ i32: value });

/** One compute dispatch. Bindings: 0 = params (when given), then inputs, then outputs. */
export interface Dispatch {
  readonly kernel: Kernel;
  readonly defines?: Defines;
  readonly params?: readonly ParamWord[];
  /** Bound as read-only storage. */
  readonly inputs?: readonly Tensor[];
  /** Bound after the inputs, before the outputs (sampled textures, read with textureLoad). */
  readonly textures?: readonly GPUTextureView[];
  /** Bound as read_write storage (they may also be read). */
  readonly outputs: readonly Tensor[];
  readonly workgroups: readonly [number, number?, number?];
}

export interface EngineOptions {
  powerPreference?: GPUPowerPreference;
  /** Optional features to leave off even where the adapter has them (e.g. to test portable paths). */
  disableFeatures?: readonly GPUFeatureName[];
  /** Upper bound on dispatches recorded into one queue submit. */
  maxDispatchesPerSubmit?: number;
}

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  limits: Record<string, number>;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
}

export interface EngineStats {
  submits: number;
  dispatches: number;
  readbacks: number;
  uploads: number;
  pipelinesCompiled: number;
  pool: PoolStats;
  /** Pooled textures (kernels that read inputs through the texture units). */
  textures: TextureStats;
  /** The mappable staging buffers of readbacks (engine.read), pooled apart from the tensors'. */
  readback: PoolStats;
}

/** GPU time of one kernel specialization over a profile (Engine.startProfile / stopProfile). */
export interface KernelProfile {
  /** The kernel's name (e.g. "conv2d_grad"). */
  kernel: string;
  /** The specialization: the name and its short defines (generated code left out). */
  pipeline: string;
  dispatches: number;
  /** Sum of the dispatches' GPU times (timestamp queries), milliseconds. */
  ms: number;
}

/** A pipeline's name in profiles: the kernel and its short defines (generated code left out). */
function profileLabel(kernel: Kernel, defines: Defines): string {
  const short = Object.keys(defines)
    .sort()
    .map((k) => [k, String(defines[k])] as const)
    .filter(([, v]) => v.length <= 24 && !v.includes('\n'));
  return `${kernel.name}(${short.map(([k, v]) => `${k}=${v}`).join(',')})`;
}

/** Dispatches timed per query set before it is resolved (two timestamps each). */
const PROFILE_CAPACITY = 2048;

interface Profiler {
  querySet: GPUQuerySet;
  resolve: GPUBuffer;
  /** The pipelines of the dispatches recorded into the current batch, in order. */
  labels: { kernel: string; pipeline: string }[];
  /** One per submitted batch: its labels and the mapped timestamps. */
  batches: Promise<{ labels: { kernel: string; pipeline: string }[]; times: BigUint64Array }>[];
}

/** Optional features used when the adapter offers them. */
const WANTED_FEATURES: readonly GPUFeatureName[] = ['shader-f16', 'timestamp-query', 'subgroups'];

/** Limits raised to what the adapter allows (the defaults are far below what models need). */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxBindGroups',
  'maxTextureDimension2D',
  'maxTextureDimension3D',
] as const;

const PARAM_SLOT = 256; // >= minUniformBufferOffsetAlignment on every adapter we know; checked at creation
const MAX_PARAM_WORDS = PARAM_SLOT / 4;

/** Usage of every tensor buffer: bound as storage, copied to and from. */
const TENSOR_USAGE = 0x80 /* STORAGE */ | 0x4 /* COPY_SRC */ | 0x8; /* COPY_DST */
const READBACK_USAGE = 0x1 /* MAP_READ */ | 0x8; /* COPY_DST */

export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  return Engine.create(options);
}

/**
 * The GPU device and everything that lives with it: the buffer pool, the pipeline cache,
 * the command batch being recorded, scopes, and statistics. Ops record dispatches into one
 * shared encoder; the batch is submitted when it is full, on flush(), or on a readback.
 */
export class Engine {
  readonly device: GPUDevice;
  readonly info: AdapterReport;
  /** shader-f16 is enabled: f16 storage is available. */
  readonly hasF16: boolean;
  /** subgroups is enabled: kernels may take their subgroup paths. */
  readonly hasSubgroups: boolean;
  readonly hasTimestamps: boolean;
  /** Id of the batch being recorded; increments at each submit. */
  batchId = 0;
  /** Textures for kernels that read through the texture units; released like tensors, after recording. */
  readonly textures: TexturePool;

  private readonly pool: BufferPool;
  private readonly readbackPool: BufferPool;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly maxDispatches: number;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatchesInBatch = 0;
  private readonly paramsHost: ArrayBuffer;
  private readonly paramsView: DataView;
  private readonly paramsBuffer: GPUBuffer;
  private paramsUsed = 0;
  private readonly scopes: Set<Tensor>[] = [];
  private readonly counters = { submits: 0, dispatches: 0, readbacks: 0, uploads: 0, pipelinesCompiled: 0 };
  private lostReason: string | null = null;
  /** Rejecters of the waits on the GPU in progress: device loss rejects them all at once. */
  private readonly waits = new Set<(error: DeviceError) => void>();
  private gpuError: string | null = null;
  private pendingChecks: Promise<void>[] = [];
  private profiler: Profiler | null = null;

  private constructor(device: GPUDevice, info: AdapterReport, options: EngineOptions) {
    this.device = device;
    this.info = info;
    this.hasF16 = device.features.has('shader-f16');
    this.hasSubgroups = device.features.has('subgroups');
    this.hasTimestamps = device.features.has('timestamp-query');
    this.maxDispatches = options.maxDispatchesPerSubmit ?? 1024;
    this.pool = new BufferPool(device, TENSOR_USAGE, 'tensor');
    this.readbackPool = new BufferPool(device, READBACK_USAGE, 'readback');
    this.textures = new TexturePool(device);
    this.paramsHost = new ArrayBuffer(this.maxDispatches * PARAM_SLOT);
    this.paramsView = new DataView(this.paramsHost);
    this.paramsBuffer = device.createBuffer({
      size: this.paramsHost.byteLength,
      usage: 0x40 /* UNIFORM */ | 0x8 /* COPY_DST */,
      label: 'params',
    });
    device.lost.then((info) => this.markLost(`${info.reason}${info.message ? ': ' + info.message : ''}`));
    device.addEventListener('uncapturederror', (event) => {
      const message = (event as GPUUncapturedErrorEvent).error.message;
      this.gpuError ??= message;
    });
  }

  static async create(options: EngineOptions = {}): Promise<Engine> {
    options = optionsObject('options', options);
    checkOneOf('powerPreference', options.powerPreference, ['low-power', 'high-performance']);
    if (options.disableFeatures !== undefined && !(Array.isArray(options.disableFeatures) && options.disableFeatures.every((f) => typeof f === 'string'))) {
      throw new ArgumentError('disableFeatures', `must be a list of feature names, got ${describeValue(options.disableFeatures)}`);
    }
    // Each dispatch of a batch takes a 256-byte params slot in one uniform buffer.
    if (options.maxDispatchesPerSubmit !== undefined) checkInteger('maxDispatchesPerSubmit', options.maxDispatchesPerSubmit, 1, 65536);
    const gpu = await getGPU();
    const adapter = await gpu.requestAdapter(
      options.powerPreference ? { powerPreference: options.powerPreference } : undefined,
    );
    if (!adapter) throw new DeviceError(NO_ADAPTER_HELP);
    const disabled = new Set(options.disableFeatures ?? []);
    const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f) && !disabled.has(f));
    const requiredLimits: Record<string, number> = {};
    for (const name of RAISED_LIMITS) {
      const value = (adapter.limits as unknown as Record<string, number>)[name];
      if (typeof value === 'number') requiredLimits[name] = value;
    }
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: '@maskgit/core' });
    } catch (cause) {
      throw new DeviceError(`the adapter refused a device (${String(cause)}). ${NO_ADAPTER_HELP}`, { cause });
    }
    if (device.limits.minUniformBufferOffsetAlignment > PARAM_SLOT) {
      throw new DeviceError(`unsupported adapter: minUniformBufferOffsetAlignment ${device.limits.minUniformBufferOffsetAlignment} > ${PARAM_SLOT}`);
    }
    return new Engine(device, adapterReport(adapter, device), options);
  }

  // ---------------------------------------------------------------- tensors

  /** Uploads host data as a new tensor. Float data for an f16 tensor is converted on the host. */
  tensor<D extends DType = 'f32'>(data: HostArray | readonly number[], shape: readonly number[], dtype?: D): Tensor<D> {
    const dt = assertDType(dtype ?? 'f32') as D;
    checkShape(shape);
    if (!Array.isArray(data) && !(ArrayBuffer.isView(data) && !(data instanceof DataView))) {
      throw new ArgumentError('data', `must be a list of numbers or a typed array, got ${describeValue(data)}`);
    }
    const size = shapeSize(shape);
    if (data.length !== size) {
      throw new ShapeError(`data has ${data.length} elements but shape [${shape.join(', ')}] needs ${size}`);
    }
    const host = toHostArray(data, dt);
    const t = this.allocate(shape, dt, true);
    if (size > 0) this.writeHost(t.pooled.buffer, host);
    this.counters.uploads++;
    return t;
  }

  /** Uploads raw little-endian bytes (e.g. from a model file) as a tensor of `dtype`. */
  tensorFromBytes<D extends DType>(bytes: Uint8Array, shape: readonly number[], dtype: D): Tensor<D> {
    assertDType(dtype);
    checkShape(shape);
    if (!(bytes instanceof Uint8Array)) throw new ArgumentError('bytes', `must be a Uint8Array, got ${describeValue(bytes)}`);
    const expected = shapeSize(shape) * dtypeSize(dtype);
    if (bytes.byteLength !== expected) {
      throw new ShapeError(`${bytes.byteLength} bytes given for a ${dtype} tensor [${shape.join(', ')}] of ${expected} bytes`);
    }
    const t = this.allocate(shape, dtype, true);
    if (expected > 0) this.writeHost(t.pooled.buffer, bytes);
    this.counters.uploads++;
    return t;
  }

  /** A tensor with undefined contents (for ops that write every element). */
  empty<D extends DType = 'f32'>(shape: readonly number[], dtype?: D): Tensor<D> {
    checkShape(shape);
    return this.allocate(shape, assertDType(dtype ?? 'f32') as D, false);
  }

  /** A tensor of zeros (a clear recorded in order with the other commands). */
  zeros<D extends DType = 'f32'>(shape: readonly number[], dtype?: D): Tensor<D> {
    const t = this.empty(shape, dtype);
    this.clear(t);
    return t;
  }

  /** Records zeroing `bytes` bytes of a tensor from `byteOffset` (multiples of 4; default: all of it). */
  clear(t: Tensor, byteOffset = 0, bytes = align4(t.byteLength) - byteOffset): void {
    if (bytes === 0) return;
    if (byteOffset % 4 || bytes % 4 || byteOffset + bytes > align4(t.byteLength)) {
      throw new ShapeError(`clear: range ${byteOffset}+${bytes} is not 4-byte aligned within ${t.byteLength} bytes`);
    }
    const enc = this.commandEncoder();
    t.pooled.lastBatch = this.batchId;
    enc.clearBuffer(t.buffer, byteOffset, bytes);
  }

  /**
   * Overwrites a tensor's contents with host data, in order with the recorded commands
   * (staged through a fresh buffer and a recorded copy, so no flush is needed).
   */
  write(t: Tensor, data: HostArray | readonly number[]): void {
    checkOperand('write', 'tensor', t, this);
    if (!Array.isArray(data) && !(ArrayBuffer.isView(data) && !(data instanceof DataView))) {
      throw new ArgumentError('data', `must be a list of numbers or a typed array, got ${describeValue(data)}`);
    }
    if (data.length !== t.size) throw new ShapeError(`write: ${data.length} values for a tensor of ${t.size}`);
    if (t.size === 0) return;
    const host = toHostArray(data, t.dtype);
    const bytes = align4(t.byteLength);
    const staging = this.pool.acquire(bytes, this.batchId);
    this.writeHost(staging.buffer, host);
    const enc = this.commandEncoder();
    enc.copyBufferToBuffer(staging.buffer, 0, t.buffer, 0, bytes);
    staging.lastBatch = this.batchId;
    t.pooled.lastBatch = this.batchId;
    this.pool.release(staging);
    this.counters.uploads++;
  }

  /** Records a copy of `bytes` bytes between tensors (offsets in bytes, multiples of 4). */
  copy(src: Tensor, srcOffset: number, dst: Tensor, dstOffset: number, bytes: number): void {
    checkOperand('copy', 'src', src, this);
    checkOperand('copy', 'dst', dst, this);
    for (const [name, v] of [['srcOffset', srcOffset], ['dstOffset', dstOffset], ['bytes', bytes]] as const) {
      if (!Number.isSafeInteger(v) || v < 0 || v % 4 !== 0) throw new ShapeError(`copy: ${name} must be a non-negative multiple of 4, got ${v}`);
    }
    if (bytes === 0) return;
    if (srcOffset + bytes > align4(src.byteLength) || dstOffset + bytes > align4(dst.byteLength)) {
      throw new ShapeError(`copy of ${bytes} bytes out of range (src ${src.byteLength} at ${srcOffset}, dst ${dst.byteLength} at ${dstOffset})`);
    }
    const enc = this.commandEncoder();
    src.pooled.lastBatch = this.batchId;
    dst.pooled.lastBatch = this.batchId;
    enc.copyBufferToBuffer(src.buffer, srcOffset, dst.buffer, dstOffset, bytes);
  }

  /**
   * Records a copy of a tensor's bytes into a texture (in order with the other commands):
   * rows of `bytesPerRow` bytes (a multiple of 256), `rowsPerImage` rows per depth slice.
   */
  copyToTexture(src: Tensor, dst: GPUTexture, layout: { bytesPerRow: number; rowsPerImage: number }, size: readonly [number, number, number]): void {
    if (layout.bytesPerRow % 256 !== 0) throw new ShapeError(`copyToTexture: bytesPerRow ${layout.bytesPerRow} is not a multiple of 256`);
    if (layout.bytesPerRow * layout.rowsPerImage * size[2] > src.byteLength) throw new ShapeError(`copyToTexture: ${src.byteLength} bytes cannot fill [${size.join(', ')}]`);
    const enc = this.commandEncoder();
    src.pooled.lastBatch = this.batchId;
    enc.copyBufferToTexture({ buffer: src.buffer, bytesPerRow: layout.bytesPerRow, rowsPerImage: layout.rowsPerImage }, { texture: dst }, size);
  }

  /** Reads a tensor back to the host. Submits what was recorded. Rejects with DeviceError if the device is lost meanwhile. */
  async read<D extends DType>(t: Tensor<D>): Promise<TypedArrayFor<D>> {
    checkOperand('read', 'tensor', t, this);
    this.checkAlive();
    const bytes = align4(t.byteLength);
    if (t.size === 0) return emptyHost(t.dtype) as TypedArrayFor<D>;
    const staging = this.readbackPool.acquire(bytes);
    const enc = this.commandEncoder();
    t.pooled.lastBatch = this.batchId;
    enc.copyBufferToBuffer(t.buffer, 0, staging.buffer, 0, bytes);
    this.flush();
    this.counters.readbacks++;
    try {
      await this.untilLost(staging.buffer.mapAsync(0x1 /* GPUMapMode.READ */, 0, bytes));
    } catch (cause) {
      this.checkAlive();
      throw new DeviceError(`readback failed: ${String(cause)}`, { cause });
    }
    const copy = staging.buffer.getMappedRange(0, bytes).slice(0);
    staging.buffer.unmap();
    this.readbackPool.release(staging);
    await this.settleChecks();
    this.throwGPUError();
    return hostFromBytes(copy, t.dtype, t.size) as TypedArrayFor<D>;
  }

  // ---------------------------------------------------------------- dispatch

  /** Records one compute dispatch into the current batch. */
  run(d: Dispatch): void {
    this.checkAlive();
    const [x, y = 1, z = 1] = d.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) throw new ShapeError(`${d.kernel.name}: dispatch [${x}, ${y}, ${z}] exceeds ${max} workgroups per dimension`);
    if (this.dispatchesInBatch >= this.maxDispatches || (this.profiler && this.profiler.labels.length >= PROFILE_CAPACITY)) this.flush();
    const pipeline = this.pipeline(d.kernel, d.defines ?? {});
    const entries: GPUBindGroupEntry[] = [];
    let binding = 0;
    if (d.params && d.params.length > 0) {
      const offset = this.writeParams(d.params);
      entries.push({ binding: binding++, resource: { buffer: this.paramsBuffer, offset, size: align(d.params.length * 4, 16) } });
    }
    const bind = (t: Tensor) => {
      const pooled = t.pooled;
      pooled.lastBatch = this.batchId;
      entries.push({ binding: binding++, resource: { buffer: pooled.buffer, size: Math.max(4, align4(t.byteLength)) } });
    };
    (d.inputs ?? []).forEach(bind);
    for (const view of d.textures ?? []) entries.push({ binding: binding++, resource: view });
    d.outputs.forEach(bind);
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const profiler = this.profiler;
    if (profiler) {
      // A pass of its own, with timestamps at its beginning and end.
      this.endPass();
      const k = profiler.labels.length;
      profiler.labels.push({ kernel: d.kernel.name, pipeline: profileLabel(d.kernel, d.defines ?? {}) });
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass({ timestampWrites: { querySet: profiler.querySet, beginningOfPassWriteIndex: 2 * k, endOfPassWriteIndex: 2 * k + 1 } });
    }
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (profiler) this.endPass();
    this.dispatchesInBatch++;
    this.counters.dispatches++;
  }

  /** Workgroup counts covering `n` workgroups in a 2-D grid within the per-dimension limit. */
  grid(n: number): [number, number] {
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (n <= max) return [Math.max(1, n), 1];
    const y = Math.ceil(n / max);
    return [Math.ceil(n / y), y];
  }

  /** The compiled pipeline for a kernel specialization (compiled once, then cached). */
  pipeline(kernel: Kernel, defines: Defines): GPUComputePipeline {
    const key = pipelineKey(kernel, defines);
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      const code = renderWGSL(kernel, defines);
      // Compilation errors are caught here and reported with the kernel's name and defines.
      this.device.pushErrorScope('validation');
      let module = this.modules.get(code);
      if (!module) {
        module = this.device.createShaderModule({ code, label: kernel.name });
        this.modules.set(code, module);
      }
      pipeline = this.device.createComputePipeline({
        layout: 'auto',
        compute: { module, entryPoint: kernel.entryPoint ?? 'main' },
        label: key,
      });
      this.pipelines.set(key, pipeline);
      this.counters.pipelinesCompiled++;
      this.pendingChecks.push(
        this.device.popErrorScope().then((error) => {
          if (error) this.gpuError ??= `kernel ${key} failed to compile: ${error.message}`;
        }),
      );
    }
    return pipeline;
  }

  /** Submits everything recorded so far (one queue submit; nothing if nothing was recorded). */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    const timed = this.resolveProfile(this.encoder);
    if (this.paramsUsed > 0) this.device.queue.writeBuffer(this.paramsBuffer, 0, this.paramsHost, 0, this.paramsUsed);
    this.device.queue.submit([this.encoder.finish()]);
    timed?.();
    this.encoder = null;
    this.paramsUsed = 0;
    this.dispatchesInBatch = 0;
    this.batchId++;
    this.counters.submits++;
  }

  /**
   * Starts timing every dispatch on the GPU (timestamp queries; each dispatch then gets a
   * compute pass of its own, which costs a little). For benchmarks: what a step spends in
   * which kernel. Throws where the adapter has no timestamp-query.
   */
  startProfile(): void {
    this.checkAlive();
    if (!this.hasTimestamps) throw new DeviceError('startProfile: this adapter has no timestamp-query feature, so dispatches cannot be timed on the GPU');
    if (this.profiler) throw new ArgumentError('startProfile', 'a profile is already running; call stopProfile() first');
    this.flush();
    this.profiler = {
      querySet: this.device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_CAPACITY, label: 'profile' }),
      resolve: this.device.createBuffer({ size: 16 * PROFILE_CAPACITY, usage: 0x200 /* QUERY_RESOLVE */ | 0x4 /* COPY_SRC */, label: 'profile resolve' }),
      labels: [],
      batches: [],
    };
  }

  /** Stops the profile: GPU time per kernel specialization, the costliest first. */
  async stopProfile(): Promise<KernelProfile[]> {
    const profiler = this.profiler;
    if (!profiler) throw new ArgumentError('stopProfile', 'no profile is running; call startProfile() first');
    this.flush();
    this.profiler = null;
    const rows = new Map<string, KernelProfile>();
    try {
      for (const { labels, times } of await this.untilLost(Promise.all(profiler.batches))) {
        labels.forEach((label, k) => {
          const ns = Number(times[2 * k + 1]! - times[2 * k]!);
          const row = rows.get(label.pipeline) ?? { ...label, dispatches: 0, ms: 0 };
          row.dispatches++;
          row.ms += Math.max(0, ns) / 1e6;
          rows.set(label.pipeline, row);
        });
      }
    } finally {
      profiler.querySet.destroy();
      profiler.resolve.destroy();
    }
    return [...rows.values()].sort((a, b) => b.ms - a.ms);
  }

  /** Records the resolve of the batch's timestamps; the returned function maps them once submitted. */
  private resolveProfile(encoder: GPUCommandEncoder): (() => void) | null {
    const profiler = this.profiler;
    if (!profiler || profiler.labels.length === 0) return null;
    const labels = profiler.labels;
    profiler.labels = [];
    const bytes = 16 * labels.length;
    const staging = this.device.createBuffer({ size: bytes, usage: 0x1 /* MAP_READ */ | 0x8 /* COPY_DST */, label: 'profile readback' });
    encoder.resolveQuerySet(profiler.querySet, 0, 2 * labels.length, profiler.resolve, 0);
    encoder.copyBufferToBuffer(profiler.resolve, 0, staging, 0, bytes);
    return () => {
      profiler.batches.push(
        staging.mapAsync(0x1 /* READ */).then(() => {
          const times = new BigUint64Array(staging.getMappedRange().slice(0));
          staging.destroy();
          return { labels, times };
        }),
      );
    };
  }

  /** Flushes and waits until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.checkAlive();
    this.flush();
    await this.workDone();
    await this.settleChecks();
    this.throwGPUError();
  }

  /**
   * Waits until the GPU has finished the work submitted so far (without flushing what is
   * being recorded). Rejects with DeviceError as soon as the device is lost, even where an
   * implementation would leave the wait pending.
   */
  async workDone(): Promise<void> {
    this.checkAlive();
    await this.untilLost(this.device.queue.onSubmittedWorkDone());
    this.checkAlive();
  }

  /** Throws DeviceError if the device is lost (or destroyed). */
  assertAlive(): void {
    this.checkAlive();
  }

  /**
   * `promise`, or DeviceError as soon as the device is lost, whichever comes first. (A set of
   * rejecters rather than a race with one loss promise: each race would leave a reaction on
   * that promise for the engine's lifetime.)
   */
  private untilLost<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waits.add(reject);
      promise.then(
        (value) => {
          this.waits.delete(reject);
          resolve(value);
        },
        (error: unknown) => {
          this.waits.delete(reject);
          reject(error);
        },
      );
    });
  }

  private markLost(reason: string): void {
    this.lostReason ??= reason;
    this.encoder = null;
    this.pass = null;
    const error = this.lostError();
    for (const reject of this.waits) reject(error);
    this.waits.clear();
  }

  private lostError(): DeviceError {
    return new DeviceError(`the GPU device was lost (${this.lostReason}); create a new engine to continue`);
  }

  // ---------------------------------------------------------------- scopes

  /**
   * Runs `fn` in a scope: every tensor created inside is disposed at the end, except the
   * tensors in the returned value (a tensor, or arrays / plain objects holding tensors),
   * which move to the enclosing scope. `fn` must be synchronous; for async code use
   * beginScope() / endScope().
   */
  tidy<T>(fn: () => T): T {
    if (typeof fn !== 'function') throw new ArgumentError('fn', `tidy() needs a function, got ${describeValue(fn)}`);
    this.beginScope();
    let result: T | undefined;
    try {
      result = fn();
      if (result instanceof Promise) throw new Error('tidy() needs a synchronous function; use beginScope()/endScope() around async code');
      return result;
    } finally {
      this.endScope(result);
    }
  }

  beginScope(): void {
    this.scopes.push(new Set());
  }

  /** Ends the innermost scope, disposing what it created except the tensors in `keep`. */
  endScope(keep?: unknown): void {
    const scope = this.scopes.pop();
    if (!scope) throw new Error('endScope() without beginScope()');
    const kept = new Set<Tensor>();
    collectTensors(keep, kept);
    const parent = this.scopes[this.scopes.length - 1];
    for (const t of scope) {
      if (kept.has(t) || t.kept) {
        if (parent && !t.kept) parent.add(t);
      } else t.dispose();
    }
  }

  /** Marks a tensor so that no scope disposes it (model weights, caches). */
  keep<T extends Tensor>(t: T): T {
    t.kept = true;
    return t;
  }

  // ---------------------------------------------------------------- bookkeeping

  stats(): EngineStats {
    return { ...this.counters, pool: this.pool.getStats(), textures: this.textures.getStats(), readback: this.readbackPool.getStats() };
  }

  /** Resets the pool's peak-memory figures, to measure the peak of the work that follows. */
  resetPeakMemory(): void {
    this.pool.resetPeaks();
    this.textures.resetPeaks();
  }

  /** Frees the pool's idle buffers. */
  trim(): void {
    this.flush();
    this.pool.trim();
    this.readbackPool.trim();
    this.textures.trim();
  }

  get lost(): boolean {
    return this.lostReason !== null;
  }

  /** Destroys the device. Tensors of this engine become unusable; pending reads and waits reject with DeviceError. */
  destroy(): void {
    this.markLost('destroyed: engine.destroy() was called');
    this.device.destroy();
  }

  /** @internal A new tensor over existing storage (reshape views). */
  adopt<D extends DType>(storage: Storage, shape: readonly number[], dtype: D): Tensor<D> {
    return this.track(new Tensor(this, storage, shape, dtype));
  }

  /** @internal */
  releaseStorage(storage: Storage): void {
    this.pool.release(storage.pooled);
  }

  // ---------------------------------------------------------------- internals

  private allocate<D extends DType>(shape: readonly number[], dtype: D, forUpload: boolean): Tensor<D> {
    this.checkAlive();
    if (dtype === 'f16' && !this.hasF16) {
      throw new ShapeError('f16 tensors need the shader-f16 feature, which this adapter does not offer; use f32');
    }
    const bytes = Math.max(4, align4(shapeSize(shape) * dtypeSize(dtype)));
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (bytes > limit) {
      throw new ShapeError(`tensor [${shape.join(', ')}] ${dtype} needs ${bytes} bytes; this adapter binds at most ${limit}`);
    }
    // A buffer written by queue.writeBuffer must not be read by commands still being recorded.
    const pooled = this.pool.acquire(bytes, forUpload ? this.batchId : undefined);
    return this.track(new Tensor(this, { pooled, refs: 1 }, shape, dtype));
  }

  private track<T extends Tensor>(t: T): T {
    const scope = this.scopes[this.scopes.length - 1];
    if (scope) scope.add(t);
    return t;
  }

  private writeHost(buffer: GPUBuffer, host: ArrayBufferView): void {
    let bytes = new Uint8Array(host.buffer, host.byteOffset, host.byteLength);
    if (bytes.byteLength % 4 !== 0) {
      const padded = new Uint8Array(align4(bytes.byteLength));
      padded.set(bytes);
      bytes = padded;
    }
    this.device.queue.writeBuffer(buffer, 0, bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
  }

  private writeParams(params: readonly ParamWord[]): number {
    if (params.length > MAX_PARAM_WORDS) throw new Error(`at most ${MAX_PARAM_WORDS} param words per dispatch`);
    const offset = this.paramsUsed;
    const view = this.paramsView;
    params.forEach((p, i) => {
      const at = offset + i * 4;
      if (typeof p === 'number') view.setUint32(at, p >>> 0, true);
      else if ('f32' in p) view.setFloat32(at, p.f32, true);
      else view.setInt32(at, p.i32, true);
    });
    this.paramsUsed += PARAM_SLOT;
    return offset;
  }

  private commandEncoder(): GPUCommandEncoder {
    this.checkAlive();
    this.endPass();
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.pass) {
      if (!this.encoder) this.encoder = this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    return this.pass;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  private checkAlive(): void {
    if (this.lostReason !== null) throw this.lostError();
  }

  private async settleChecks(): Promise<void> {
    if (this.pendingChecks.length === 0) return;
    const checks = this.pendingChecks;
    this.pendingChecks = [];
    await Promise.all(checks);
  }

  private throwGPUError(): void {
    if (this.gpuError !== null) {
      const message = this.gpuError;
      this.gpuError = null;
      throw new DeviceError(`GPU error: ${message}`);
    }
  }
}

function adapterReport(adapter: GPUAdapter, device: GPUDevice): AdapterReport {
  const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  const limits: Record<string, number> = {};
  for (const name of [...RAISED_LIMITS, 'minUniformBufferOffsetAlignment', 'maxUniformBufferBindingSize'] as const) {
    const value = (device.limits as unknown as Record<string, number>)[name];
    if (typeof value === 'number') limits[name] = value;
  }
  const report: AdapterReport = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    features: [...device.features].sort(),
    limits,
  };
  if (typeof info.subgroupMinSize === 'number') report.subgroupMinSize = info.subgroupMinSize;
  if (typeof info.subgroupMaxSize === 'number') report.subgroupMaxSize = info.subgroupMaxSize;
  return report;
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export function align4(n: number): number {
  return align(n, 4);
}

function toHostArray(data: HostArray | readonly number[], dtype: DType): ArrayBufferView {
  switch (dtype) {
    case 'f32':
      return data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
    case 'f16':
      return data instanceof Uint16Array ? data : f32ArrayToF16(data as ArrayLike<number>);
    case 'i32':
      return data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>);
    case 'u32':
      return data instanceof Uint32Array ? data : Uint32Array.from(data as ArrayLike<number>);
  }
}

function hostFromBytes(bytes: ArrayBuffer, dtype: DType, size: number): Float32Array | Int32Array | Uint32Array {
  switch (dtype) {
    case 'f32':
      return new Float32Array(bytes, 0, size);
    case 'f16':
      return f16ArrayToF32(new Uint16Array(bytes, 0, size));
    case 'i32':
      return new Int32Array(bytes, 0, size);
    case 'u32':
      return new Uint32Array(bytes, 0, size);
  }
}

function emptyHost(dtype: DType): Float32Array | Int32Array | Uint32Array {
  return dtype === 'i32' ? new Int32Array(0) : dtype === 'u32' ? new Uint32Array(0) : new Float32Array(0);
}

function collectTensors(value: unknown, into: Set<Tensor>, depth = 0): void {
  if (depth > 8 || value === null || typeof value !== 'object') return;
  if (value instanceof Tensor) {
    into.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, into, depth + 1);
    return;
  }
  if (Object.getPrototypeOf(value) === Object.prototype || value instanceof Map) {
    const values = value instanceof Map ? [...value.values()] : Object.values(value);
    for (const v of values) collectTensors(v, into, depth + 1);
  }
}
