/**
 * A size-bucketed pool of GPU buffers. Sizes are rounded up to a bucket (powers of two below
 * 4 KiB, quarter steps between powers of two above: at most 25% waste), released buffers are
 * kept per bucket and handed out again, so a loop that allocates the same shapes every step
 * reaches a steady state with no new GPU allocations.
 */
export interface PooledBuffer {
  readonly buffer: GPUBuffer;
  /** Bucket size in bytes (what the GPU allocation really is). */
  readonly size: number;
  /** Id of the last command batch that referenced this buffer (see Engine.batchId). */
  lastBatch: number;
}

export interface PoolStats {
  /** Bytes of buffers handed out and not yet released. */
  bytesInUse: number;
  buffersInUse: number;
  /** Bytes of all GPU buffers the pool holds (in use + free). */
  bytesAllocated: number;
  buffersAllocated: number;
  peakBytesInUse: number;
  peakBytesAllocated: number;
  /** How many times a new GPU buffer had to be created. */
  allocations: number;
}

export function bucketSize(bytes: number): number {
  const n = Math.max(16, Math.ceil(bytes / 4) * 4);
  if (n <= 4096) return 2 ** Math.ceil(Math.log2(n));
  const p = 2 ** Math.floor(Math.log2(n));
  const step = p / 4;
  return Math.ceil(n / step) * step;
}

export class BufferPool {
  private readonly free = new Map<number, PooledBuffer[]>();
  private readonly stats: PoolStats = {
    bytesInUse: 0,
    buffersInUse: 0,
    bytesAllocated: 0,
    buffersAllocated: 0,
    peakBytesInUse: 0,
    peakBytesAllocated: 0,
    allocations: 0,
  };

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    private readonly label: string,
  ) {}

  /**
   * A buffer of at least `bytes`. With `notUsedSince` set, only a buffer whose last use was in
   * an earlier batch than that id qualifies: queue.writeBuffer runs before the commands still
   * being recorded, so it must never target a buffer those commands read.
   */
  acquire(bytes: number, notUsedSince?: number): PooledBuffer {
    const size = bucketSize(bytes);
    const list = this.free.get(size);
    let entry: PooledBuffer | undefined;
    if (list && list.length > 0) {
      if (notUsedSince === undefined) entry = list.pop();
      else {
        const i = list.findIndex((b) => b.lastBatch < notUsedSince);
        if (i >= 0) entry = list.splice(i, 1)[0];
      }
    }
    if (!entry) {
      const buffer = this.device.createBuffer({ size, usage: this.usage, label: this.label });
      entry = { buffer, size, lastBatch: -1 };
      this.stats.allocations++;
      this.stats.buffersAllocated++;
      this.stats.bytesAllocated += size;
      this.stats.peakBytesAllocated = Math.max(this.stats.peakBytesAllocated, this.stats.bytesAllocated);
    }
    this.stats.buffersInUse++;
    this.stats.bytesInUse += size;
    this.stats.peakBytesInUse = Math.max(this.stats.peakBytesInUse, this.stats.bytesInUse);
    return entry;
  }

  release(entry: PooledBuffer): void {
    this.stats.buffersInUse--;
    this.stats.bytesInUse -= entry.size;
    let list = this.free.get(entry.size);
    if (!list) this.free.set(entry.size, (list = []));
    list.push(entry);
  }

  /** Destroys every free buffer (memory in use is untouched). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const entry of list) {
        entry.buffer.destroy();
        this.stats.buffersAllocated--;
        this.stats.bytesAllocated -= entry.size;
      }
    }
    this.free.clear();
  }

  /** Resets the peak figures to the current ones (to measure the peak of one piece of work). */
  resetPeaks(): void {
    this.stats.peakBytesInUse = this.stats.bytesInUse;
    this.stats.peakBytesAllocated = this.stats.bytesAllocated;
  }

  getStats(): PoolStats {
    return { ...this.stats };
  }
}
