// Model folders: progress events, atomic writes (a failed write leaves no half folder), header
// and config checks before any upload, and loading by URL through the Cache API (a fake
// CacheStorage) with the memory fallback when the quota is exceeded.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ArgumentError,
  CheckpointError,
  initialValues,
  loadModelWeights,
  ModelCache,
  modelParamSpecs,
  seededUniform,
  writeModelFolder,
  type CacheLike,
  type CacheStorageLike,
  type ModelFolderConfig,
  type ProgressInfo,
  type TensorBytes,
  type Tensor,
} from '../src/node.js';
import { getEngine } from './helpers/engine.js';

const work = mkdtempSync(join(tmpdir(), 'maskgit-model-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const config: ModelFolderConfig = {
  format: 'maskgit-model',
  version: 1,
  imageSize: 8,
  codebookSize: 16,
  numClasses: 3,
  maskTokenId: 19,
  nullClassId: null,
  dtype: 'f32',
  transformer: { vocabSize: 20, hiddenSize: 8, numLayers: 1, numHeads: 2, mlpSize: 16, maxPositions: 17, layerNormEps: 1e-12, gelu: 'tanh' },
  tokenizer: { filters: 32, channelMultipliers: [1, 2], numResBlocks: 1, embeddingDim: 4, codebookSize: 16, groupNormGroups: 32, groupNormEps: 1e-6 },
};

const random = seededUniform(5);
const values = new Map(modelParamSpecs(config).map((s) => [s.name, initialValues(s, random)]));
const tensors: TensorBytes[] = modelParamSpecs(config).map((s) => {
  const v = values.get(s.name)!;
  return { name: s.name, dtype: 'F32', shape: s.shape, data: new Uint8Array(v.buffer) };
});

async function expectValues(weights: Map<string, Tensor>): Promise<void> {
  expect(weights.size).toBe(values.size);
  for (const [name, want] of values) {
    const got = await weights.get(name)!.read();
    expect(got.every((v, i) => Object.is(v, want[i])), name).toBe(true);
  }
}

const dispose = (weights: Map<string, Tensor>) => weights.forEach((t) => t.dispose());

describe('model folders on disk', () => {
  const dir = join(work, 'tiny');

  it('loads with transformers.js-style progress events', async () => {
    const engine = await getEngine();
    await writeModelFolder(dir, config, tensors);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual(config);
    const events: ProgressInfo[] = [];
    const loaded = await loadModelWeights(engine, dir, { onProgress: (e) => events.push(e) });
    await expectValues(loaded.weights);
    dispose(loaded.weights);

    const size = readFileSync(join(dir, 'model.safetensors')).byteLength;
    const summary = events.map((e) => `${e.status}:${e.file}`);
    expect(summary[0]).toBe('initiate:config.json');
    expect(summary).toContain('done:config.json');
    expect(summary.slice(-3)).toEqual(['progress:model.safetensors', 'done:model.safetensors', `ready:${dir}`]);
    const weightsEvents = events.filter((e) => e.file === 'model.safetensors');
    expect(weightsEvents[0]).toMatchObject({ status: 'initiate', name: dir, loaded: 0, progress: 0 });
    for (const e of weightsEvents.slice(1)) expect(e.total).toBe(size);
    const percents = weightsEvents.map((e) => e.progress);
    expect(percents.every((p, i) => i === 0 || p >= percents[i - 1]!)).toBe(true);
    expect(events[events.length - 1]).toMatchObject({ status: 'ready', loaded: size, total: size, progress: 100 });
    // file: URLs read the same folder.
    const byUrl = await loadModelWeights(engine, pathToFileURL(dir));
    dispose(byUrl.weights);
  });

  it('a write that fails midway leaves no folder, or the old one intact, and no temporary files', async () => {
    const engine = await getEngine();
    const failing = tensors.map((t, i) => (i === 20 ? { ...t, data: () => { throw new Error('disk on fire'); } } : t));
    const fresh = join(work, 'fresh');
    await expect(writeModelFolder(fresh, config, failing)).rejects.toThrow('disk on fire');
    expect(existsSync(fresh)).toBe(false);
    // Replacing an existing model folder: it stays as it was and still loads.
    await expect(writeModelFolder(dir, config, failing)).rejects.toThrow('disk on fire');
    const loaded = await loadModelWeights(engine, dir);
    await expectValues(loaded.weights);
    dispose(loaded.weights);
    expect(readdirSync(work).filter((f) => f.startsWith('.'))).toEqual([]);
    // A successful replacement swaps the folder in one rename.
    await writeModelFolder(dir, { ...config, nullClassId: 2 }, tensors);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).nullClassId).toBe(2);
    expect(readdirSync(work).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('refuses to replace a folder that is not a model folder', async () => {
    const other = join(work, 'photos');
    mkdirSync(other);
    writeFileSync(join(other, 'cat.png'), 'meow');
    await expect(writeModelFolder(other, config, tensors)).rejects.toThrow(ArgumentError);
    await expect(writeModelFolder(other, config, tensors)).rejects.toThrow(/exists and is not a model folder/);
    expect(readdirSync(other)).toEqual(['cat.png']);
    await expect(writeModelFolder(join(other, 'cat.png'), config, tensors)).rejects.toThrow(/cat.png is a file, not a folder/);
  });

  it('refuses a folder without config.json (as a crash before the config was written would leave)', async () => {
    const engine = await getEngine();
    const half = join(work, 'half');
    mkdirSync(half);
    writeFileSync(join(half, 'model.safetensors'), readFileSync(join(dir, 'model.safetensors')));
    await expect(loadModelWeights(engine, half)).rejects.toThrow(CheckpointError);
    await expect(loadModelWeights(engine, half)).rejects.toThrow(/is not a model folder: config.json could not be read/);
    await expect(loadModelWeights(engine, join(work, 'missing'))).rejects.toThrow(/is not a model folder/);
  });

  it('checks the weights against config.json before uploading anything', async () => {
    const engine = await getEngine();
    const variant = (name: string, edit: (c: ModelFolderConfig) => unknown, file?: Buffer) => {
      const d = join(work, name);
      mkdirSync(d, { recursive: true });
      const c = structuredClone(config);
      edit(c);
      writeFileSync(join(d, 'config.json'), typeof c === 'string' ? c : JSON.stringify(c));
      writeFileSync(join(d, 'model.safetensors'), file ?? readFileSync(join(dir, 'model.safetensors')));
      return d;
    };
    const before = engine.stats().pool.bytesInUse;
    const cases: [string, (c: ModelFolderConfig) => unknown, RegExp][] = [
      ['layers', (c) => (c.transformer.numLayers = 2), /does not match its config: missing parameters: transformer\.layers\.1\.attn\.qkv\.weight/],
      ['mlp', (c) => (c.transformer.mlpSize = 24), /parameter transformer\.layers\.0\.mlp\.fc1\.weight has shape \[8, 16\], the config implies \[8, 24\]/],
      ['dtype', (c) => (c.dtype = 'f16'), /is F32, config.json says dtype "f16"/],
      ['vocab', (c) => (c.transformer.vocabSize = 21), /config.json: transformer.vocabSize: 21 must be codebookSize \+ numClasses \+ 1/],
      ['format', (c) => ((c as { format: string }).format = 'other'), /is not a MaskGIT model config/],
      ['contents', (c) => (c.contents = ['vae' as 'tokenizer']), /"contents" must list "transformer" and\/or "tokenizer"/],
      ['tokenizer-only', (c) => (c.contents = ['tokenizer']), /unexpected parameters: transformer\.embed\.word/],
    ];
    for (const [name, edit, message] of cases) {
      await expect(loadModelWeights(engine, variant(name, edit)), name).rejects.toThrow(message);
    }
    const notJson = variant('not-json', () => undefined);
    writeFileSync(join(notJson, 'config.json'), '{"format": ');
    await expect(loadModelWeights(engine, notJson)).rejects.toThrow(/config.json is not valid JSON/);
    expect(engine.stats().pool.bytesInUse).toBe(before);
  });
});

// ------------------------------------------------------------------------------ over HTTP

const base = 'https://models.test/tiny';

/** Serves the tiny folder; counts requests; can drop the tail of the weights or the length header. */
function server(options: { truncate?: number; noLength?: boolean } = {}) {
  const requests: string[] = [];
  const fetch = async (url: string): Promise<Response> => {
    requests.push(url.slice(base.length + 1));
    const file = join(work, 'tiny', url.slice(base.length + 1));
    if (!url.startsWith(base + '/') || !existsSync(file)) return new Response('not found', { status: 404, statusText: 'Not Found' });
    const bytes = new Uint8Array(readFileSync(file));
    const body = options.truncate && file.endsWith('.safetensors') ? bytes.subarray(0, bytes.byteLength - options.truncate) : bytes;
    const headers: Record<string, string> = options.noLength ? {} : { 'content-length': String(bytes.byteLength) };
    // Delivered in 1000-byte chunks, as a network would.
    let at = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (at >= body.byteLength) return c.close();
        c.enqueue(body.slice(at, at + 1000));
        at += 1000;
      },
    });
    return new Response(stream, { headers });
  };
  return { fetch, requests };
}

/** CacheStorage with a quota; put reads the whole body first, as browsers do. */
class FakeCaches implements CacheStorageLike {
  readonly stored = new Map<string, Uint8Array>();
  puts = 0;
  constructor(private readonly quota = Infinity, private readonly failure?: Error) {}
  async open(): Promise<CacheLike> {
    return {
      match: async (url) => {
        const body = this.stored.get(url);
        return body ? new Response(body.slice(), { headers: { 'content-length': String(body.byteLength) } }) : undefined;
      },
      put: async (url, response) => {
        this.puts++;
        const body = new Uint8Array(await response.arrayBuffer());
        if (this.failure) throw this.failure;
        const used = [...this.stored.values()].reduce((n, b) => n + b.byteLength, 0);
        if (used + body.byteLength > this.quota) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        this.stored.set(url, body);
      },
    };
  }
}

/** Lets the cache's put (which runs beside the load) finish. */
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('model folders by URL, with the Cache API', () => {
  it('downloads once, then loads from the cache', async () => {
    const engine = await getEngine();
    const caches = new FakeCaches();
    const cache = new ModelCache({ caches });
    const net = server();
    const first = await loadModelWeights(engine, base, { fetch: net.fetch, cache });
    await expectValues(first.weights);
    dispose(first.weights);
    await settle();
    expect(net.requests).toEqual(['config.json', 'model.safetensors']);
    expect([...caches.stored.keys()]).toEqual([`${base}/config.json`, `${base}/model.safetensors`]);
    expect(Buffer.from(caches.stored.get(`${base}/model.safetensors`)!).equals(readFileSync(join(work, 'tiny', 'model.safetensors')))).toBe(true);

    const events: ProgressInfo[] = [];
    const second = await loadModelWeights(engine, base, { fetch: net.fetch, cache, onProgress: (e) => events.push(e) });
    await expectValues(second.weights);
    dispose(second.weights);
    expect(net.requests).toHaveLength(2);
    expect(events[events.length - 1]).toMatchObject({ status: 'ready', name: base, progress: 100 });
  });

  it('keeps files in memory when the Cache API quota is exceeded', async () => {
    const engine = await getEngine();
    const caches = new FakeCaches(1000); // config.json fits, the weights do not
    const cache = new ModelCache({ caches });
    const net = server();
    const first = await loadModelWeights(engine, base, { fetch: net.fetch, cache });
    dispose(first.weights);
    await settle();
    expect(caches.puts).toBe(2);
    expect([...caches.stored.keys()]).toEqual([`${base}/config.json`]);
    expect((cache.lastCacheError as Error).name).toBe('QuotaExceededError');
    expect(cache.memoryFiles).toEqual([`${base}/model.safetensors`]);
    const second = await loadModelWeights(engine, base, { fetch: net.fetch, cache });
    await expectValues(second.weights);
    dispose(second.weights);
    expect(net.requests).toEqual(['config.json', 'model.safetensors']);
  });

  it('keeps nothing when the cache fails for another reason, or without memory fallback', async () => {
    const engine = await getEngine();
    for (const cache of [
      new ModelCache({ caches: new FakeCaches(Infinity, new TypeError('Request scheme is unsupported')) }),
      new ModelCache({ caches: new FakeCaches(0), memoryFallback: false }),
    ]) {
      const net = server();
      for (let i = 0; i < 2; i++) dispose((await loadModelWeights(engine, base, { fetch: net.fetch, cache })).weights);
      await settle();
      expect(cache.memoryFiles).toEqual([]);
      expect(net.requests).toHaveLength(4);
    }
  });

  it('never caches a truncated download, and reports it', async () => {
    const engine = await getEngine();
    const caches = new FakeCaches();
    const cache = new ModelCache({ caches });
    const before = engine.stats().pool.bytesInUse;
    await expect(loadModelWeights(engine, base, { fetch: server({ truncate: 100 }).fetch, cache })).rejects.toThrow(/truncated safetensors file/);
    await settle();
    expect([...caches.stored.keys()]).toEqual([`${base}/config.json`]);
    expect(cache.memoryFiles).toEqual([]);
    expect(engine.stats().pool.bytesInUse).toBe(before);
    // Without a length the stream is checked against the header as it arrives.
    await expect(loadModelWeights(engine, base, { fetch: server({ truncate: 100, noLength: true }).fetch, cache: false })).rejects.toThrow(/truncated safetensors file/);
    const unsized = await loadModelWeights(engine, base, { fetch: server({ noLength: true }).fetch, cache: false });
    await expectValues(unsized.weights);
    dispose(unsized.weights);
  });

  it('says when a URL is not a model folder', async () => {
    const engine = await getEngine();
    await expect(loadModelWeights(engine, 'https://models.test/nothing', { fetch: server().fetch, cache: false })).rejects.toThrow(
      /https:\/\/models.test\/nothing is not a model folder: config.json could not be read \(could not fetch .*HTTP 404 Not Found\)/,
    );
    const offline = async (): Promise<Response> => {
      throw new TypeError('fetch failed');
    };
    await expect(loadModelWeights(engine, base, { fetch: offline, cache: false })).rejects.toThrow(/could not fetch https:\/\/models.test\/tiny\/config.json: fetch failed/);
  });
});
