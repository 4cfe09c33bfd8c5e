import { checkFunction, checkOneOf, describeValue, optionsObject } from '../arguments.js';
import { ArgumentError, CheckpointError } from '../errors.js';
import { validateConfig, type MaskGITConfig } from '../maskgit/config.js';
import { checkWeights, tokenizerParams, transformerParams, type ParamSpec } from '../maskgit/weights.js';
import { Engine } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { ScratchBuffers } from './dtype-bytes.js';
import { FileProgress, type ProgressCallback } from './progress.js';
import { ModelCache, openRemoteFile, type OpenedFile, type RemoteOptions } from './remote.js';
import { readSafetensorsFile, type SafetensorsHeader, type SafetensorsSink, type SafetensorsTensorInfo } from './safetensors.js';
import { storageDType, uploadTensor, type WeightDType } from './upload.js';

/**
 * A model folder: `config.json` (a MaskGITConfig, plus `contents`) and `model.safetensors` (the
 * parameters by engine name, in config.dtype). `contents` lists the parts whose weights the
 * folder holds; a folder converted from one checkpoint holds one part, and the config section of
 * the other part describes the official architecture it is meant to pair with (no weights back
 * it). Absent `contents` means both parts.
 */
export const MODEL_CONFIG_FILE = 'config.json';
export const MODEL_WEIGHTS_FILE = 'model.safetensors';

/** The metadata model.safetensors is written with. */
export const MODEL_WEIGHTS_METADATA: Readonly<Record<string, string>> = Object.freeze({ format: 'maskgit' });

/** config.json's text as the writers write it (one format, so every writer's files are byte-identical). */
export function modelConfigText(config: ModelFolderConfig): string {
  return JSON.stringify(config, null, 2) + '\n';
}

export type ModelPart = 'transformer' | 'tokenizer';
export const MODEL_PARTS: readonly ModelPart[] = ['transformer', 'tokenizer'];

export interface ModelFolderConfig extends MaskGITConfig {
  /** The parts whose weights model.safetensors holds (default: both). */
  contents?: ModelPart[];
}

export function modelContents(config: ModelFolderConfig): ModelPart[] {
  return config.contents ? MODEL_PARTS.filter((p) => config.contents!.includes(p)) : [...MODEL_PARTS];
}

/** The engine parameters of the given parts. */
export function modelParamSpecs(config: MaskGITConfig, parts: readonly ModelPart[] = MODEL_PARTS): ParamSpec[] {
  return [
    ...(parts.includes('transformer') ? transformerParams(config.transformer) : []),
    ...(parts.includes('tokenizer') ? tokenizerParams(config.tokenizer) : []),
  ];
}

/** Parses and validates config.json (CheckpointError naming the field otherwise). */
export function parseModelConfig(text: string, source: string): ModelFolderConfig {
  let config: ModelFolderConfig;
  try {
    config = JSON.parse(text) as ModelFolderConfig;
  } catch (cause) {
    throw new CheckpointError(`${source} is not valid JSON (${(cause as Error).message})`, { cause });
  }
  if (config === null || typeof config !== 'object' || config.format !== 'maskgit-model') {
    throw new CheckpointError(`${source} is not a MaskGIT model config (its "format" is not "maskgit-model")`);
  }
  if (config.version !== 1) throw new CheckpointError(`${source} has version ${String(config.version)}; this library reads version 1: upgrade @maskgit/core`);
  if (typeof config.transformer !== 'object' || config.transformer === null || typeof config.tokenizer !== 'object' || config.tokenizer === null) {
    throw new CheckpointError(`${source} needs "transformer" and "tokenizer" sections`);
  }
  if (config.contents !== undefined) {
    const ok = Array.isArray(config.contents) && config.contents.length > 0 && config.contents.every((p) => MODEL_PARTS.includes(p));
    if (!ok) throw new CheckpointError(`${source}: "contents" must list "transformer" and/or "tokenizer", got ${JSON.stringify(config.contents)}`);
  }
  try {
    validateConfig(config);
  } catch (error) {
    if (error instanceof ArgumentError) throw new CheckpointError(`${source}: ${error.message}`, { cause: error });
    throw error;
  }
  return config;
}

function list(names: readonly string[]): string {
  return names.slice(0, 8).join(', ') + (names.length > 8 ? ` and ${names.length - 8} more` : '');
}

/**
 * Checks a weights file's header against the config before any tensor is read: the same
 * names, the shapes the config implies, and the config's dtype.
 */
export function checkModelHeader(header: SafetensorsHeader, config: MaskGITConfig, specs: readonly ParamSpec[], source: string): void {
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  const expected = new Set(specs.map((s) => s.name));
  const missing = specs.filter((s) => !byName.has(s.name)).map((s) => s.name);
  const extra = header.tensors.filter((t) => !expected.has(t.name)).map((t) => t.name);
  if (missing.length || extra.length) {
    throw new CheckpointError(
      `${source} does not match its config: ` +
        [missing.length ? `missing parameters: ${list(missing)}` : '', extra.length ? `unexpected parameters: ${list(extra)}` : ''].filter(Boolean).join('; '),
    );
  }
  const fileDType = config.dtype === 'f16' ? 'F16' : 'F32';
  for (const spec of specs) {
    const t = byName.get(spec.name)!;
    if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
      throw new CheckpointError(`${source}: parameter ${spec.name} has shape [${t.shape.join(', ')}], the config implies [${spec.shape.join(', ')}]`);
    }
    if (t.dtype !== fileDType) throw new CheckpointError(`${source}: parameter ${spec.name} is ${t.dtype}, config.json says dtype "${config.dtype}" (${fileDType})`);
  }
}

/** A model folder: a path (Node), a URL, or any ModelFileSource (e.g. a browser's Origin Private File System). */
export type ModelLocation = string | URL | ModelFileSource;

export function isModelFileSource(value: unknown): value is ModelFileSource {
  return (
    value !== null &&
    typeof value === 'object' &&
    !(value instanceof URL) &&
    typeof (value as ModelFileSource).location === 'string' &&
    typeof (value as ModelFileSource).open === 'function'
  );
}

/** Checks the options shared by the loaders (ArgumentError naming the option). */
function checkLoadOptions<T extends LoadSafetensorsOptions & { parts?: readonly ModelPart[] }>(
  engine: unknown,
  pathOrUrl: unknown,
  options: T | undefined,
  sources = false,
): T {
  if (!(engine instanceof Engine)) throw new ArgumentError('engine', `must be an Engine (createEngine()), got ${describeValue(engine)}`);
  if (!(pathOrUrl instanceof URL) && !(sources && isModelFileSource(pathOrUrl)) && (typeof pathOrUrl !== 'string' || pathOrUrl.length === 0)) {
    throw new ArgumentError(
      'path',
      `must be a folder path or URL (a non-empty string or a URL)${sources ? ' or a ModelFileSource ({ location, open })' : ''}, got ${describeValue(pathOrUrl)}`,
    );
  }
  const checked = optionsObject('options', options);
  checkOneOf('dtype', checked.dtype, ['f32', 'f16', 'auto']);
  checkFunction('onProgress', checked.onProgress);
  checkFunction('fetch', checked.fetch);
  if (checked.cache !== undefined && checked.cache !== false && !(checked.cache instanceof ModelCache)) {
    throw new ArgumentError('cache', `must be a ModelCache or false, got ${describeValue(checked.cache)}`);
  }
  if (checked.parts !== undefined && !(Array.isArray(checked.parts) && checked.parts.every((p) => MODEL_PARTS.includes(p)))) {
    throw new ArgumentError('parts', `must list "transformer" and/or "tokenizer", got ${describeValue(checked.parts)}`);
  }
  return checked;
}

/** Where a model folder's files come from: a local folder (Node) or a URL. */
export interface ModelFileSource {
  /** A readable name for messages. */
  readonly location: string;
  open(file: string): Promise<OpenedFile>;
}

/** Local files, registered by the Node entry. */
export interface LocalFiles {
  /** A folder on disk (a path or a file: URL). */
  folder(dir: string | URL): ModelFileSource;
  /** One file on disk. */
  open(path: string | URL): Promise<OpenedFile>;
}

let localFiles: LocalFiles | null = null;

export function setLocalFiles(files: LocalFiles): void {
  localFiles = files;
}

/** A URL scheme: two characters or more, so a Windows drive letter (C:) is not one. */
const SCHEME = /^[a-z][a-z0-9+.-]+:/i;

function joinUrl(base: string, file: string): string {
  return base.endsWith('/') ? base + file : `${base}/${file}`;
}

/** Whether a path or URL is read from disk (Node) or fetched; fetched ones come back absolute. */
function resolveLocation(pathOrUrl: string | URL): { local: true } | { local: false; url: string } {
  const text = String(pathOrUrl);
  const isFileUrl = text.startsWith('file:');
  const isUrl = pathOrUrl instanceof URL || SCHEME.test(text);
  if ((!isUrl || isFileUrl) && localFiles) return { local: true };
  if (isFileUrl) throw new ArgumentError('path', `${text}: file: URLs need the Node entry of @maskgit/core`);
  if (isUrl) return { local: false, url: text };
  const page = (globalThis as { location?: { href: string } }).location?.href;
  if (!page) throw new ArgumentError('path', `${text} is a local path: reading files needs the Node entry of @maskgit/core; in a browser pass a URL`);
  return { local: false, url: new URL(text, page).href };
}

/** A source for a folder path (Node), a file: URL (Node) or an http(s) URL / page-relative path (browsers). */
export function modelSource(dirOrUrl: string | URL, options: RemoteOptions = {}): ModelFileSource {
  const where = resolveLocation(dirOrUrl);
  if (where.local) return localFiles!.folder(dirOrUrl);
  return { location: where.url, open: (file) => openRemoteFile(joinUrl(where.url, file), options) };
}

/** Opens one file: from disk (Node) or by URL (with the cache). */
export function openFile(pathOrUrl: string | URL, options: RemoteOptions = {}): Promise<OpenedFile> {
  const where = resolveLocation(pathOrUrl);
  return where.local ? localFiles!.open(pathOrUrl) : openRemoteFile(where.url, options);
}

const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** A small file's bytes; CheckpointError past `limit` (a hostile server cannot make us hold more). */
async function readAll(opened: OpenedFile, progress: FileProgress, limit: number, source: string): Promise<Uint8Array> {
  const reader = opened.stream.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    if (loaded > limit) {
      await reader.cancel();
      throw new CheckpointError(`${source} is over ${limit} bytes: too large for a model config`);
    }
    progress.update(loaded, opened.total);
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Reads config.json of a model folder (with progress events for it). */
export async function readModelConfig(source: ModelFileSource, onProgress?: ProgressCallback): Promise<ModelFolderConfig> {
  const progress = new FileProgress(onProgress, source.location, MODEL_CONFIG_FILE);
  progress.initiate();
  let opened: OpenedFile;
  try {
    opened = await source.open(MODEL_CONFIG_FILE);
  } catch (error) {
    if (error instanceof CheckpointError) {
      throw new CheckpointError(
        `${source.location} is not a model folder: ${MODEL_CONFIG_FILE} could not be read (${error.message}). ` +
          'Make one with `maskgit convert <checkpoint> --out <dir>`',
        { cause: error },
      );
    }
    throw error;
  }
  const where = `${source.location}/${MODEL_CONFIG_FILE}`;
  if (opened.total !== undefined && opened.total > MAX_CONFIG_BYTES) {
    await opened.stream.cancel();
    throw new CheckpointError(`${where} is ${opened.total} bytes: too large for a model config`);
  }
  const text = new TextDecoder().decode(await readAll(opened, progress, MAX_CONFIG_BYTES, where));
  progress.done();
  return parseModelConfig(text, where);
}

/** Streams an opened safetensors file into `sink`, with progress events for it. */
async function streamSafetensors(
  open: () => Promise<OpenedFile>,
  name: string,
  file: string,
  sink: SafetensorsSink,
  onProgress: ProgressCallback | undefined,
): Promise<{ header: SafetensorsHeader; bytes: number }> {
  const progress = new FileProgress(onProgress, name, file);
  progress.initiate();
  const opened = await open();
  progress.total = opened.total ?? 0;
  const header = await readSafetensorsFile(
    opened,
    { ...sink, progress: (loaded, total) => progress.update(loaded, total) },
    { source: name === file ? file : `${name}/${file}` },
  );
  progress.done();
  return { header, bytes: progress.loaded };
}

/**
 * Bytes uploaded between waits for the GPU: a queue's writes are copied into staging memory
 * that lives until the GPU takes them, so without a wait a fast reader piles a whole model up
 * there (in a browser tab: ~0.5 GB more at the peak for the official model on SwiftShader).
 */
const UPLOAD_WINDOW_BYTES = 64 * 2 ** 20;

function uploadingSink(engine: Engine, weights: Map<string, Tensor>, storage: (info: SafetensorsTensorInfo) => 'f32' | 'f16'): Pick<SafetensorsSink, 'tensor'> {
  const scratch = new ScratchBuffers();
  let unconfirmed = 0;
  return {
    tensor: async (info, data) => {
      weights.set(info.name, engine.keep(uploadTensor(engine, info, data, storage(info), scratch)));
      unconfirmed += data.byteLength;
      if (unconfirmed >= UPLOAD_WINDOW_BYTES) {
        unconfirmed = 0;
        await engine.workDone();
      }
    },
  };
}

export interface LoadSafetensorsOptions extends RemoteOptions {
  onProgress?: ProgressCallback;
  /** GPU storage of float tensors (default 'auto': each tensor's own float dtype where the adapter can store it). */
  dtype?: WeightDType;
}

/**
 * Reads any safetensors file (a path in Node, a URL anywhere) onto the GPU, streaming: each
 * tensor is uploaded as soon as its bytes arrive. Tensors are kept (no scope disposes them).
 */
export async function loadSafetensors(
  engine: Engine,
  pathOrUrl: string | URL,
  options: LoadSafetensorsOptions = {},
): Promise<{ tensors: Map<string, Tensor>; metadata: Readonly<Record<string, string>> }> {
  options = checkLoadOptions(engine, pathOrUrl, options);
  const tensors = new Map<string, Tensor>();
  const name = String(pathOrUrl);
  try {
    const { header } = await streamSafetensors(
      () => openFile(pathOrUrl, options),
      name,
      name,
      uploadingSink(engine, tensors, (info) => storageDType(engine, options.dtype ?? 'auto', info.dtype)),
      options.onProgress,
    );
    return { tensors, metadata: header.metadata };
  } catch (error) {
    for (const t of tensors.values()) t.dispose();
    throw error;
  }
}

export interface LoadWeightsOptions extends RemoteOptions {
  onProgress?: ProgressCallback;
  /** GPU storage of the weights (default 'auto': the file's dtype where the adapter can store it). */
  dtype?: WeightDType;
  /** Parts that must be present (default: whatever the folder holds). */
  parts?: readonly ModelPart[];
}

export interface LoadedWeights {
  /** config.json as stored (its `dtype` is the file's). */
  config: ModelFolderConfig;
  /** The parts loaded. */
  contents: ModelPart[];
  /** Parameters by engine name, kept (no scope disposes them). */
  weights: Map<string, Tensor>;
  /** What float weights are stored as on the GPU. */
  dtype: 'f32' | 'f16';
}

/**
 * Reads a model folder (a path in Node, a URL anywhere, or a ModelFileSource) onto the GPU: config.json first, then
 * model.safetensors streamed, each tensor uploaded as soon as its bytes arrive. The header is
 * checked against the config before any tensor is read; on any error every uploaded tensor is
 * freed and the error (CheckpointError for bad files) is thrown.
 */
export async function loadModelWeights(engine: Engine, dirOrUrl: ModelLocation, options: LoadWeightsOptions = {}): Promise<LoadedWeights> {
  options = checkLoadOptions(engine, dirOrUrl, options, true);
  const source = isModelFileSource(dirOrUrl) ? dirOrUrl : modelSource(dirOrUrl, options);
  const config = await readModelConfig(source, options.onProgress);
  const contents = modelContents(config);
  const missing = (options.parts ?? []).filter((p) => !contents.includes(p));
  if (missing.length > 0) {
    throw new CheckpointError(
      `${source.location} holds only the ${contents.join(' and ')}; the ${missing.join(' and ')} is missing. ` +
        `Convert both checkpoints into one folder: maskgit convert <transformer> <tokenizer> --out <dir>`,
    );
  }
  const specs = modelParamSpecs(config, contents);
  const dtype = storageDType(engine, options.dtype ?? 'auto', config.dtype === 'f16' ? 'F16' : 'F32');
  const weights = new Map<string, Tensor>();
  try {
    const { bytes } = await streamSafetensors(
      () => source.open(MODEL_WEIGHTS_FILE),
      source.location,
      MODEL_WEIGHTS_FILE,
      {
        header: (header) => checkModelHeader(header, config, specs, `${source.location}/${MODEL_WEIGHTS_FILE}`),
        ...uploadingSink(engine, weights, () => dtype),
      },
      options.onProgress,
    );
    checkWeights(weights, specs);
    options.onProgress?.({ status: 'ready', name: source.location, file: source.location, loaded: bytes, total: bytes, progress: 100 });
  } catch (error) {
    for (const t of weights.values()) t.dispose();
    throw error;
  }
  return { config, contents, weights, dtype };
}
