/**
 * Textures for kernels that read through the texture units (on CPU adapters a texel fetch
 * is a vector load, a storage-buffer read at a per-lane address a scalar load per lane).
 * Like tensor buffers they are pooled: released as soon as the dispatch that reads them is
 * recorded (commands run in order, so the next user's copy lands after that read), kept by
 * descriptor for reuse, destroyed by trim().
 */
export interface TextureStats {
  bytesInUse: number;
  bytesAllocated: number;
  peakBytesInUse: number;
  allocations: number;
}

export interface TextureSpec {
  format: 'rgba32float' | 'rgba16float';
  dimension: '2d' | '3d';
  size: [number, number, number];
}

export interface PooledTexture {
  readonly texture: GPUTexture;
  readonly view: GPUTextureView;
  readonly key: string;
  readonly bytes: number;
}

export class TexturePool {
  private readonly free = new Map<string, PooledTexture[]>();
  private readonly stats: TextureStats = { bytesInUse: 0, bytesAllocated: 0, peakBytesInUse: 0, allocations: 0 };

  constructor(private readonly device: GPUDevice) {}

  acquire(spec: TextureSpec): PooledTexture {
    const key = `${spec.format}|${spec.dimension}|${spec.size.join('x')}`;
    let entry = this.free.get(key)?.pop();
    if (!entry) {
      const texture = this.device.createTexture({
        size: spec.size,
        dimension: spec.dimension,
        format: spec.format,
        usage: 0x4 /* TEXTURE_BINDING */ | 0x2 /* COPY_DST */,
        label: key,
      });
      const bytes = spec.size[0] * spec.size[1] * spec.size[2] * (spec.format === 'rgba32float' ? 16 : 8);
      entry = { texture, view: texture.createView(), key, bytes };
      this.stats.allocations++;
      this.stats.bytesAllocated += bytes;
    }
    this.stats.bytesInUse += entry.bytes;
    this.stats.peakBytesInUse = Math.max(this.stats.peakBytesInUse, this.stats.bytesInUse);
    return entry;
  }

  release(entry: PooledTexture): void {
    this.stats.bytesInUse -= entry.bytes;
    let list = this.free.get(entry.key);
    if (!list) this.free.set(entry.key, (list = []));
    list.push(entry);
  }

  /** Destroys the idle textures (call after a flush: recorded commands may still read them). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const entry of list) {
        entry.texture.destroy();
        this.stats.bytesAllocated -= entry.bytes;
      }
    }
    this.free.clear();
  }

  resetPeaks(): void {
    this.stats.peakBytesInUse = this.stats.bytesInUse;
  }

  getStats(): TextureStats {
    return { ...this.stats };
  }
}
