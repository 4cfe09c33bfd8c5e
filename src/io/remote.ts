import { CheckpointError } from '../errors.js';

/**
 * Files over HTTP(S) with a browser cache: the Cache API when there is one, and memory when
 * the Cache API's quota is exceeded (so a second load in the same page does not download
 * again). The interfaces are the parts of CacheStorage/Cache we use, so tests can pass fakes.
 */
export interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
}

export interface CacheStorageLike {
  open(name: string): Promise<CacheLike>;
}

/** A file being read: its bytes as a stream and its size when known. */
export interface OpenedFile {
  readonly stream: ReadableStream<Uint8Array>;
  readonly total: number | undefined;
  /** Where the bytes come from. */
  readonly from: 'network' | 'cache' | 'memory' | 'disk';
  /**
   * Random access, for files on disk: fills `into` with the bytes at `position` and returns how
   * many it read (0 at the end). Readers prefer it to the stream: bytes go straight into the
   * caller's buffer, with no intermediate chunks.
   */
  readAt?(into: Uint8Array, position: number): Promise<number>;
  /** Releases a file read with readAt (a stream releases it when it ends or is cancelled). */
  close?(): Promise<void>;
}

export type FetchLike = (url: string) => Promise<Response>;

export interface ModelCacheOptions {
  /** The Cache API; `globalThis.caches` by default, null for memory only. */
  caches?: CacheStorageLike | null;
  /** Cache name (default 'maskgit-models'). */
  name?: string;
  /** Keep files in memory when the Cache API refuses them for quota (default true). */
  memoryFallback?: boolean;
}

interface MemoryEntry {
  readonly chunks: readonly Uint8Array[];
  readonly total: number;
}

function isQuotaError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'QuotaExceededError' || /quota/i.test(error.message));
}

function streamOf(chunks: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else controller.close();
    },
  });
}

/** Content-Length when it is the size of the bytes we will read (not of a compressed encoding). */
export function contentLength(response: Response): number | undefined {
  const encoding = response.headers.get('content-encoding');
  if (encoding && encoding !== 'identity') return undefined;
  const value = Number(response.headers.get('content-length'));
  return Number.isSafeInteger(value) && value >= 0 && response.headers.has('content-length') ? value : undefined;
}

export class ModelCache {
  private readonly caches: CacheStorageLike | null;
  private readonly name: string;
  private readonly memoryFallback: boolean;
  private readonly memory = new Map<string, MemoryEntry>();
  private cache: Promise<CacheLike> | null = null;
  /** The last error the Cache API gave (for diagnostics). */
  lastCacheError: unknown = null;

  constructor(options: ModelCacheOptions = {}) {
    this.caches = options.caches === undefined ? ((globalThis as { caches?: CacheStorageLike }).caches ?? null) : options.caches;
    this.name = options.name ?? 'maskgit-models';
    this.memoryFallback = options.memoryFallback ?? true;
  }

  /** Files currently held in memory (those the Cache API refused). */
  get memoryFiles(): string[] {
    return [...this.memory.keys()];
  }

  private open(): Promise<CacheLike> | null {
    if (!this.caches) return null;
    this.cache ??= this.caches.open(this.name);
    return this.cache;
  }

  async match(url: string): Promise<OpenedFile | undefined> {
    const entry = this.memory.get(url);
    if (entry) return { stream: streamOf(entry.chunks), total: entry.total, from: 'memory' };
    const cache = this.open();
    if (!cache) return undefined;
    try {
      const hit = await (await cache).match(url);
      if (hit?.body) return { stream: hit.body, total: contentLength(hit), from: 'cache' };
    } catch (error) {
      this.lastCacheError = error;
    }
    return undefined;
  }

  /**
   * Passes `body` through to the caller while storing it: into the Cache API, and (until the
   * Cache API has accepted it) into a list of the same chunks, kept in memory if it refuses them
   * for quota. A body that fails or is cancelled midway is stored nowhere.
   */
  store(url: string, body: ReadableStream<Uint8Array>, total: number | undefined): ReadableStream<Uint8Array> {
    const cache = this.open();
    let retained: Uint8Array[] | null = this.memoryFallback ? [] : null;
    let received = 0;
    let streamComplete = false;
    let cacheState: 'pending' | 'stored' | 'refused' = 'pending';
    let toCache: ReadableStreamDefaultController<Uint8Array> | null = null;
    const keepInMemory = () => {
      if (retained && streamComplete && cacheState === 'refused') this.memory.set(url, { chunks: retained, total: received });
    };
    if (cache) {
      const cacheBody = new ReadableStream<Uint8Array>({
        start: (controller) => {
          toCache = controller;
        },
        cancel: () => {
          toCache = null;
        },
      });
      const headers: Record<string, string> = total !== undefined ? { 'content-length': String(total) } : {};
      cache
        .then((c) => c.put(url, new Response(cacheBody, { headers })))
        .then(
          () => {
            cacheState = 'stored';
            retained = null;
          },
          (error: unknown) => {
            this.lastCacheError = error;
            cacheState = 'refused';
            toCache = null;
            if (!isQuotaError(error)) retained = null;
            keepInMemory();
          },
        );
    } else cacheState = 'refused';
    const abort = (reason: unknown) => {
      retained = null;
      try {
        toCache?.error(reason);
      } catch {
        // the cache already stopped reading
      }
      toCache = null;
    };
    const reader = body.getReader();
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (error) {
          abort(error);
          throw error;
        }
        if (result.done) {
          if (total !== undefined && received !== total) {
            abort(new Error(`incomplete download: ${received} of ${total} bytes`));
          } else {
            streamComplete = true;
            try {
              toCache?.close();
            } catch {
              // the cache already stopped reading
            }
            keepInMemory();
          }
          controller.close();
          return;
        }
        const chunk = result.value;
        received += chunk.byteLength;
        retained?.push(chunk);
        try {
          toCache?.enqueue(chunk);
        } catch {
          toCache = null;
        }
        controller.enqueue(chunk);
      },
      cancel: async (reason) => {
        abort(reason);
        await reader.cancel(reason);
      },
    });
  }
}

let sharedCache: ModelCache | null = null;

/** The page's cache (created on first use). */
export function defaultModelCache(): ModelCache {
  sharedCache ??= new ModelCache();
  return sharedCache;
}

export interface RemoteOptions {
  /** `fetch` by default. */
  fetch?: FetchLike;
  /** A ModelCache, or false for none. Default: the shared cache where the Cache API exists, none elsewhere (Node). */
  cache?: ModelCache | false;
}

function resolveCache(option: ModelCache | false | undefined): ModelCache | null {
  if (option === false) return null;
  if (option) return option;
  return (globalThis as { caches?: unknown }).caches ? defaultModelCache() : null;
}

/** Opens a URL for streaming, from the cache when it is there, else from the network (caching it). */
export async function openRemoteFile(url: string, options: RemoteOptions = {}): Promise<OpenedFile> {
  const cache = resolveCache(options.cache);
  const hit = await cache?.match(url);
  if (hit) return hit;
  const fetchFn: FetchLike = options.fetch ?? ((u) => fetch(u));
  let response: Response;
  try {
    response = await fetchFn(url);
  } catch (cause) {
    throw new CheckpointError(`could not fetch ${url}: ${(cause as Error).message ?? String(cause)}; check the URL and the network`, { cause });
  }
  if (!response.ok) {
    throw new CheckpointError(`could not fetch ${url}: HTTP ${response.status}${response.statusText ? ' ' + response.statusText : ''}`);
  }
  if (!response.body) throw new CheckpointError(`${url}: the response has no body`);
  const total = contentLength(response);
  return { stream: cache ? cache.store(url, response.body, total) : response.body, total, from: 'network' };
}
