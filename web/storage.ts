// The models this browser keeps: model folders (config.json + model.safetensors) converted or
// imported on the page, in the Origin Private File System under maskgit-models/<name>/.
// A folder counts once its config.json is there: writers put the weights in first and the
// config last, after writing both under a temporary folder (.partial-*), so a tab closed or a
// conversion cancelled at any moment leaves no folder that loads half-written.
import { CheckpointError } from '../src/errors.js';
import { MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE, parseModelConfig, type ModelFileSource, type ModelFolderConfig } from '../src/io/model.js';
import type { OpenedFile } from '../src/io/remote.js';

export const MODELS_DIR = 'maskgit-models';
/** Folders being written (or left by a closed tab) start with this. */
export const PARTIAL_PREFIX = '.partial-';

/** What the OPFS API offers beyond lib.dom's types (Chromium 111+, Safari 17+, Firefox 111+). */
interface MovableFileHandle extends FileSystemFileHandle {
  move(destination: FileSystemDirectoryHandle, name: string): Promise<void>;
}

export interface StoredModel {
  name: string;
  /** Bytes of its files. */
  bytes: number;
  config: ModelFolderConfig;
}

export function storageAvailable(): boolean {
  return typeof navigator !== 'undefined' && typeof navigator.storage?.getDirectory === 'function';
}

async function modelsDirectory(create: boolean): Promise<FileSystemDirectoryHandle | null> {
  const root = await navigator.storage.getDirectory();
  try {
    return await root.getDirectoryHandle(MODELS_DIR, { create });
  } catch (error) {
    if ((error as DOMException).name === 'NotFoundError') return null;
    throw error;
  }
}

async function fileIn(dir: FileSystemDirectoryHandle, name: string): Promise<File | null> {
  try {
    return await (await dir.getFileHandle(name)).getFile();
  } catch (error) {
    if ((error as DOMException).name === 'NotFoundError' || (error as DOMException).name === 'TypeMismatchError') return null;
    throw error;
  }
}

/** A stored name: letters, digits, '.', '_' and '-', not starting with '.' (those are temporaries). */
export function storedName(text: string): string {
  const name = text
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 80);
  return name || 'model';
}

/** The complete stored models (those with a config.json that parses), by name. */
export async function listStoredModels(): Promise<StoredModel[]> {
  if (!storageAvailable()) return [];
  const models = await modelsDirectory(false);
  if (!models) return [];
  const out: StoredModel[] = [];
  for await (const [name, handle] of models.entries()) {
    if (handle.kind !== 'directory' || name.startsWith('.')) continue;
    const dir = handle as FileSystemDirectoryHandle;
    const configFile = await fileIn(dir, MODEL_CONFIG_FILE);
    const weights = await fileIn(dir, MODEL_WEIGHTS_FILE);
    if (!configFile || !weights) continue;
    try {
      out.push({ name, bytes: configFile.size + weights.size, config: parseModelConfig(await configFile.text(), `${name}/${MODEL_CONFIG_FILE}`) });
    } catch {
      // A damaged config: not listed (removeLeftovers does not touch it; forgetting all does).
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Removes what interrupted writes left: temporary folders and model folders without a
 * config.json. A folder still being written by another tab is locked and stays.
 */
export async function removeLeftovers(): Promise<void> {
  if (!storageAvailable()) return;
  const models = await modelsDirectory(false);
  if (!models) return;
  const doomed: string[] = [];
  for await (const [name, handle] of models.entries()) {
    if (handle.kind !== 'directory') continue;
    if (name.startsWith(PARTIAL_PREFIX) || !(await fileIn(handle as FileSystemDirectoryHandle, MODEL_CONFIG_FILE))) doomed.push(name);
  }
  for (const name of doomed) await models.removeEntry(name, { recursive: true }).catch(() => undefined);
}

/** A fresh temporary folder name. */
export function partialName(): string {
  return `${PARTIAL_PREFIX}${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * Removes a temporary folder once its writer is gone: a terminated worker releases its file
 * handles shortly after, so a locked folder is tried again for a while.
 */
export async function removePartial(name: string, attempts = 50): Promise<void> {
  const models = await modelsDirectory(false);
  if (!models) return;
  for (let i = 0; ; i++) {
    try {
      await models.removeEntry(name, { recursive: true });
      return;
    } catch (error) {
      if ((error as DOMException).name === 'NotFoundError') return;
      if (i + 1 >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export async function forgetStoredModel(name: string): Promise<void> {
  const models = await modelsDirectory(false);
  await models?.removeEntry(name, { recursive: true }).catch((error: DOMException) => {
    if (error.name !== 'NotFoundError') throw error;
  });
}

/** Every stored model, and what interrupted writes left. */
export async function forgetAllStoredModels(): Promise<void> {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry(MODELS_DIR, { recursive: true }).catch((error: DOMException) => {
    if (error.name !== 'NotFoundError') throw error;
  });
}

/** The storage this origin uses (all of it: models, the Cache API's copy of the bundled model, ...) and its quota. */
export async function storageEstimate(): Promise<{ usage: number; quota: number } | null> {
  if (typeof navigator.storage?.estimate !== 'function') return null;
  const { usage, quota } = await navigator.storage.estimate();
  return usage === undefined || quota === undefined ? null : { usage, quota };
}

/** A stored model as a ModelFileSource, for loadMaskGIT. */
export function storedModelSource(name: string): ModelFileSource {
  return {
    location: `browser storage/${name}`,
    async open(file): Promise<OpenedFile> {
      const models = await modelsDirectory(false);
      const dir = models && (await models.getDirectoryHandle(name).catch(() => null));
      const found = dir && (await fileIn(dir, file));
      if (!found) throw new CheckpointError(`${file} is not in the stored model ${name}; forget it and add the model again`);
      if (!byteStreams()) return { stream: found.stream() as ReadableStream<Uint8Array>, total: found.size, from: 'disk' };
      return {
        get stream() {
          return found.stream() as ReadableStream<Uint8Array>;
        },
        total: found.size,
        from: 'disk',
        ...sequentialReads(found),
      };
    },
  };
}

let byteStreamSupport: boolean | null = null;

/** Whether Blob streams are byte streams here (they take BYOB readers; Chromium 116+, Firefox, Safari 17.4+). */
function byteStreams(): boolean {
  if (byteStreamSupport === null) {
    try {
      (new Blob([]).stream() as ReadableStream<Uint8Array>).getReader({ mode: 'byob' }).releaseLock();
      byteStreamSupport = true;
    } catch {
      byteStreamSupport = false;
    }
  }
  return byteStreamSupport;
}

/**
 * Reads of a stored file into the caller's buffer (OpenedFile.readAt, which the safetensors
 * loader prefers), through one byte-stream reader and one reused 4 MiB buffer: a stream's
 * chunks would each be a new ArrayBuffer, garbage the size of the model that the tab holds
 * until it is collected (~0.45 GB for the official model). Reads are sequential, as the loader
 * makes them; a jump starts a new reader at the new position.
 */
function sequentialReads(file: File): Pick<OpenedFile, 'readAt' | 'close'> {
  let reader: ReadableStreamBYOBReader | null = null;
  let position = 0;
  let scratch = new ArrayBuffer(4 * 2 ** 20);
  const close = async () => {
    await reader?.cancel().catch(() => undefined);
    reader = null;
  };
  return {
    close,
    async readAt(into, at) {
      if (!reader || at !== position) {
        await close();
        reader = (file.slice(at).stream() as ReadableStream<Uint8Array>).getReader({ mode: 'byob' });
        position = at;
      }
      let filled = 0;
      while (filled < into.byteLength) {
        const { value, done } = await reader.read(new Uint8Array(scratch, 0, Math.min(scratch.byteLength, into.byteLength - filled)));
        if (value) scratch = value.buffer as ArrayBuffer;
        if (done || !value || value.byteLength === 0) break;
        into.set(value, filled);
        filled += value.byteLength;
        position += value.byteLength;
      }
      return filled;
    },
  };
}

/** One file's bytes, digested (SHA-256, hex): lets a test compare a stored file with one written elsewhere. */
export async function storedFileDigest(name: string, file: string): Promise<string> {
  const models = await modelsDirectory(false);
  const dir = models && (await models.getDirectoryHandle(name));
  const found = dir && (await fileIn(dir, file));
  if (!found) throw new Error(`no ${file} in ${name}`);
  const digest = await crypto.subtle.digest('SHA-256', await found.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The synchronous file access of a dedicated worker (lib.webworker's types, declared for this one use). */
interface SyncAccessHandle {
  write(buffer: Uint8Array, options: { at: number }): number;
  flush(): void;
  close(): void;
}
interface SyncFileHandle extends FileSystemFileHandle {
  createSyncAccessHandle(): Promise<SyncAccessHandle>;
}

/**
 * Writes a model folder into storage (in a dedicated worker: it uses synchronous access
 * handles): files go into a temporary folder, and commit() moves them into place, the
 * weights first and config.json last, which makes the folder complete.
 */
export class StoredFolderWriter {
  private constructor(
    private readonly models: FileSystemDirectoryHandle,
    readonly partialName: string,
    private readonly partial: FileSystemDirectoryHandle,
  ) {}

  static async create(partialName: string): Promise<StoredFolderWriter> {
    if (!partialName.startsWith(PARTIAL_PREFIX)) throw new Error(`a temporary folder's name starts with ${PARTIAL_PREFIX}`);
    const models = (await modelsDirectory(true))!;
    return new StoredFolderWriter(models, partialName, await models.getDirectoryHandle(partialName, { create: true }));
  }

  /** Writes `pieces` in order into a new file; `onBytes` sees the bytes written so far. */
  async write(file: string, pieces: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, onBytes?: (bytes: number) => void): Promise<number> {
    const handle = (await this.partial.getFileHandle(file, { create: true })) as SyncFileHandle;
    const access = await handle.createSyncAccessHandle();
    let at = 0;
    try {
      for await (const piece of pieces) {
        for (let done = 0; done < piece.byteLength; ) {
          const n = access.write(piece.subarray(done), { at: at + done });
          if (n <= 0) throw new Error(`writing ${file} stopped at byte ${at + done}`);
          done += n;
        }
        at += piece.byteLength;
        onBytes?.(at);
      }
      access.flush();
    } finally {
      access.close();
    }
    return at;
  }

  /** Moves the files into maskgit-models/<name>/ (replacing a model of that name): weights first, config.json last. */
  async commit(name: string): Promise<void> {
    const target = await this.models.getDirectoryHandle(name, { create: true });
    // Un-commit a model being replaced before its weights go: without config.json it is not a model.
    for (const file of [MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE]) {
      await target.removeEntry(file).catch((error: DOMException) => {
        if (error.name !== 'NotFoundError') throw error;
      });
    }
    for (const file of [MODEL_WEIGHTS_FILE, MODEL_CONFIG_FILE]) {
      const handle = (await this.partial.getFileHandle(file)) as MovableFileHandle;
      await handle.move(target, file);
    }
    await this.models.removeEntry(this.partialName, { recursive: true });
  }

  async abort(): Promise<void> {
    await this.models.removeEntry(this.partialName, { recursive: true }).catch(() => undefined);
  }
}
