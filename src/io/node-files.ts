import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeValue } from '../arguments.js';
import { ArgumentError, CheckpointError } from '../errors.js';
import { deadLeftovers, syncFolder, temporaryPath, writeAtomically, writeFileAtomic } from './atomic.js';
import { decodeFlaxCheckpoint, encodeFlaxCheckpoint, type ByteSource, type FlaxTree, type FlaxWriteOptions } from './flax.js';
import { checkModelHeader, MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE, MODEL_WEIGHTS_METADATA, modelConfigText, modelContents, modelParamSpecs, parseModelConfig, setLocalFiles, type ModelFileSource, type ModelFolderConfig } from './model.js';
import { FileProgress, type ProgressCallback } from './progress.js';
import type { OpenedFile } from './remote.js';
import { encodeSafetensorsHeader, safetensorsPieces, type TensorBytes } from './safetensors.js';

/** Node: files on disk as streams, atomic writers for safetensors, Flax checkpoints and model folders. */

const READ_CHUNK = 4 * 1024 * 1024;

function toPath(pathOrUrl: string | URL): string {
  return pathOrUrl instanceof URL || String(pathOrUrl).startsWith('file:') ? fileURLToPath(pathOrUrl) : String(pathOrUrl);
}

function notFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT' || (error as NodeJS.ErrnoException)?.code === 'ENOTDIR';
}

/**
 * A file on disk: random access (readAt) and, on first use, a stream of chunks read on demand
 * (nothing read ahead beyond one chunk). The handle closes when the stream ends or is
 * cancelled, or on close().
 */
export async function openLocalFile(pathOrUrl: string | URL): Promise<OpenedFile> {
  const path = toPath(pathOrUrl);
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (notFound(error)) throw new CheckpointError(`${path} does not exist`, { cause: error });
    throw error;
  }
  const { size } = await handle.stat();
  let closed = false;
  const close = async () => {
    if (!closed) {
      closed = true;
      await handle.close();
    }
  };
  const readAt = async (into: Uint8Array, position: number) => (await handle.read(into, 0, into.byteLength, position)).bytesRead;
  let stream: ReadableStream<Uint8Array> | null = null;
  const makeStream = () => {
    let position = 0;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const n = Math.min(READ_CHUNK, size - position);
          const chunk = n > 0 ? new Uint8Array(n) : null;
          const bytesRead = chunk ? await readAt(chunk, position) : 0;
          if (bytesRead === 0) {
            await close();
            controller.close();
            return;
          }
          position += bytesRead;
          controller.enqueue(chunk!.subarray(0, bytesRead));
        } catch (error) {
          await close();
          throw error;
        }
      },
      cancel: close,
    });
  };
  return {
    get stream() {
      stream ??= makeStream();
      return stream;
    },
    total: size,
    from: 'disk',
    readAt,
    close,
  };
}

/**
 * A model folder on disk. When the folder is missing because a process was killed while
 * replacing it (between moving the old folder aside and renaming the new one in), opening it
 * finishes that replacement first (recoverModelFolder), so the model still loads.
 */
export function localModelFolder(dir: string | URL): ModelFileSource {
  const path = toPath(dir);
  return {
    location: path,
    open: async (file) => {
      try {
        return await openLocalFile(join(path, file));
      } catch (error) {
        if (error instanceof CheckpointError && !(await exists(path)) && (await recoverModelFolder(path))) return openLocalFile(join(path, file));
        throw error;
      }
    },
  };
}

/** Whether a file or folder exists at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Lets loadModelWeights / loadSafetensors read paths on disk (called by the Node entry). */
export function installNodeFiles(): void {
  setLocalFiles({ folder: localModelFolder, open: openLocalFile });
}

/** Reads a whole file into one buffer, with progress events (for Flax checkpoints, which are not streamable). */
export async function readFileWithProgress(path: string, onProgress?: ProgressCallback, name = path): Promise<Uint8Array> {
  const progress = new FileProgress(onProgress, name, path);
  progress.initiate();
  const file = await openLocalFile(path);
  try {
    const out = new Uint8Array(file.total!);
    for (let at = 0; at < out.byteLength; ) {
      const n = await file.readAt!(out.subarray(at, Math.min(out.byteLength, at + READ_CHUNK)), at);
      if (n === 0) throw new CheckpointError(`${path} shrank while it was read (${at} of ${out.byteLength} bytes)`);
      at += n;
      progress.update(at, out.byteLength);
    }
    progress.done();
    return out;
  } finally {
    await file.close!();
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.byteLength; ) {
    const { bytesWritten } = await handle.write(bytes, at, Math.min(bytes.byteLength - at, 1 << 30));
    at += bytesWritten;
  }
}

/** Writes pieces to a new file, coalescing small ones (writeAtomically syncs it). */
async function writePieces(handle: FileHandle, pieces: Iterable<Uint8Array>, onWritten?: (bytes: number) => void): Promise<void> {
  const buffer = new Uint8Array(1 << 20);
  let used = 0;
  let written = 0;
  const flush = async () => {
    if (used > 0) await writeAll(handle, buffer.subarray(0, used));
    written += used;
    used = 0;
    onWritten?.(written);
  };
  for (const piece of pieces) {
    if (piece.byteLength <= buffer.byteLength - used) {
      buffer.set(piece, used);
      used += piece.byteLength;
      continue;
    }
    await flush();
    if (piece.byteLength < buffer.byteLength / 2) {
      buffer.set(piece, 0);
      used = piece.byteLength;
    } else {
      await writeAll(handle, piece);
      written += piece.byteLength;
      onWritten?.(written);
    }
  }
  await flush();
}

export interface WriteOptions {
  onProgress?: ProgressCallback;
}

/** Writes a safetensors file atomically, one tensor at a time (lazy `data` is called as it is reached). */
export async function writeSafetensorsFile(
  path: string,
  tensors: readonly TensorBytes[],
  metadata: Readonly<Record<string, string>> = {},
  options: WriteOptions = {},
): Promise<void> {
  const { header } = encodeSafetensorsHeader(tensors, metadata);
  const progress = new FileProgress(options.onProgress, path, basename(path), header.dataOffset + header.dataLength);
  progress.initiate();
  await writeAtomically(path, (handle) => writePieces(handle, safetensorsPieces(tensors, metadata), (n) => progress.update(n)));
  progress.done();
}

/** Reads a Flax msgpack checkpoint from disk (one buffer; arrays are views into it). */
export async function readFlaxCheckpointFile(path: string, onProgress?: ProgressCallback): Promise<FlaxTree> {
  try {
    await stat(path);
  } catch (error) {
    if (notFound(error)) throw new ArgumentError('checkpoint', `${path} does not exist`);
    throw error;
  }
  return decodeFlaxCheckpoint(await readFileWithProgress(path, onProgress), path);
}

/**
 * A file on disk as a ByteSource (synchronous reads at any offset, for readFlaxCheckpoint and
 * convertCheckpointFiles), open until close().
 */
export function openFileSource(path: string): { bytes: ByteSource; close(): void } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if (notFound(error)) throw new ArgumentError('checkpoint', `${path} does not exist`);
    throw error;
  }
  const size = fstatSync(fd).size;
  let open = true;
  const bytes: ByteSource = {
    size,
    read(offset, length) {
      const out = new Uint8Array(length);
      for (let at = 0; at < length; ) {
        const n = readSync(fd, out, at, length - at, offset + at);
        if (n === 0) throw new CheckpointError(`${path} shrank while it was read (it ends before byte ${offset + at})`);
        at += n;
      }
      return out;
    },
  };
  return {
    bytes,
    close: () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** Writes a Flax msgpack checkpoint atomically (as flax.serialization.msgpack_serialize would). */
export async function writeFlaxCheckpointFile(path: string, tree: FlaxTree, options: FlaxWriteOptions = {}): Promise<void> {
  await writeAtomically(path, (handle) => writePieces(handle, encodeFlaxCheckpoint(tree, options)));
}

/** Whether `dir` holds a model folder's config (so replacing it is safe). */
async function isModelFolder(dir: string): Promise<boolean> {
  try {
    const config = JSON.parse(await readFile(join(dir, MODEL_CONFIG_FILE), 'utf8')) as { format?: unknown };
    return config.format === 'maskgit-model';
  } catch {
    return false;
  }
}

/** Another file written into a model folder with it (e.g. a training checkpoint's state): bytes, text, or safetensors. */
export interface ExtraFile {
  name: string;
  data: Uint8Array | string | { tensors: readonly TensorBytes[]; metadata?: Record<string, string> };
}

/**
 * Cleans up after writes of the model folder `dir` whose process was killed, and finishes a
 * replacement cut off between its two renames (the old folder moved aside, the new one not yet
 * in place): the new folder is renamed in when it is complete (its config.json, written last,
 * exists), else the old one is put back. Writes of live processes are left alone. Returns
 * whether it put a folder back at `dir`. writeModelFolder and the disk loader call it.
 */
export async function recoverModelFolder(dir: string): Promise<boolean> {
  const target = resolve(dir);
  const leftovers = await deadLeftovers(target);
  let restored = false;
  if (!(await exists(target))) {
    // A complete new folder first (roll forward), else the old one (roll back).
    const candidates = [...leftovers.filter((l) => l.kind === 'tmp'), ...leftovers.filter((l) => l.kind === 'old')];
    for (const leftover of candidates) {
      if (await isModelFolder(leftover.path)) {
        await rename(leftover.path, target);
        restored = true;
        break;
      }
    }
  }
  for (const leftover of leftovers) await rm(leftover.path, { recursive: true, force: true });
  if (restored || leftovers.length > 0) await syncFolder(dirname(target));
  return restored;
}

/**
 * What writeModelFolder is given must make a folder that loads: a valid config, and tensors
 * whose names, shapes and dtype are the ones the config implies (the loader's own check).
 */
function checkFolderContents(dir: string, config: ModelFolderConfig, tensors: readonly TensorBytes[]): void {
  try {
    // parseModelConfig is what the loader runs on config.json; the same text must pass.
    parseModelConfig(JSON.stringify(config), `${dir}/${MODEL_CONFIG_FILE}`);
  } catch (error) {
    if (error instanceof CheckpointError) throw new ArgumentError('config', error.message);
    throw error;
  }
  if (!Array.isArray(tensors)) throw new ArgumentError('tensors', `must be a list of tensors, got ${describeValue(tensors)}`);
  try {
    const { header } = encodeSafetensorsHeader(tensors);
    checkModelHeader(header, config, modelParamSpecs(config, modelContents(config)), `${dir}/${MODEL_WEIGHTS_FILE}`);
  } catch (error) {
    if (error instanceof CheckpointError) throw new ArgumentError('tensors', error.message);
    throw error;
  }
}

/**
 * Writes a model folder atomically: config.json and model.safetensors go into a temporary
 * folder beside `dir` (weights first, config last, each synced), which is then renamed into
 * place. An existing model folder at `dir` is replaced (moved aside, then removed); any other
 * non-empty folder is refused. A process killed at any point leaves the old folder, no folder,
 * or the new one — never a partial folder that loads — plus hidden `.<name>.<pid>-*` leftovers,
 * which the next write (or, when the kill fell between the two renames, the next load) cleans
 * up, completing the replacement.
 * `extraFiles` are written into the temporary folder too, before config.json.
 */
export async function writeModelFolder(
  dir: string,
  config: ModelFolderConfig,
  tensors: readonly TensorBytes[],
  options: WriteOptions & { metadata?: Record<string, string>; extraFiles?: readonly ExtraFile[] } = {},
): Promise<void> {
  if (typeof dir !== 'string' || dir.length === 0) throw new ArgumentError('out', `must be a folder path, got ${describeValue(dir)}`);
  checkFolderContents(dir, config, tensors);
  const target = resolve(dir);
  for (const f of options.extraFiles ?? []) {
    if (f.name !== basename(f.name) || f.name.startsWith('.') || f.name === MODEL_CONFIG_FILE || f.name === MODEL_WEIGHTS_FILE) {
      throw new ArgumentError('extraFiles', `"${f.name}" must be a plain file name other than ${MODEL_CONFIG_FILE} and ${MODEL_WEIGHTS_FILE}`);
    }
  }
  const parent = dirname(target);
  await recoverModelFolder(target);
  let existing: string[] | null = null;
  try {
    existing = await readdir(target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new ArgumentError('out', `${dir} is a file, not a folder; choose another output folder`);
    if (code !== 'ENOENT') throw error;
  }
  if (existing && existing.length > 0 && !(await isModelFolder(target))) {
    throw new ArgumentError('out', `${dir} exists and is not a model folder; choose another output folder or remove it`);
  }
  await mkdir(parent, { recursive: true });
  const { path: tmp, tag } = temporaryPath(target, 'tmp');
  const { path: old } = temporaryPath(target, 'old', tag);
  let movedAside = false;
  await mkdir(tmp);
  try {
    await writeSafetensorsFile(join(tmp, MODEL_WEIGHTS_FILE), tensors, { ...MODEL_WEIGHTS_METADATA, ...options.metadata }, options);
    for (const f of options.extraFiles ?? []) {
      if (typeof f.data === 'string' || f.data instanceof Uint8Array) await writeFileAtomic(join(tmp, f.name), f.data);
      else await writeSafetensorsFile(join(tmp, f.name), f.data.tensors, f.data.metadata ?? {});
    }
    // Last: its presence marks the folder complete (recoverModelFolder relies on it).
    await writeFileAtomic(join(tmp, MODEL_CONFIG_FILE), modelConfigText(config));
    if (existing) {
      await rename(target, old);
      movedAside = true;
      await rename(tmp, target);
      movedAside = false;
      await syncFolder(parent);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, target);
      await syncFolder(parent);
    }
  } catch (error) {
    if (movedAside) await rename(old, target).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}
