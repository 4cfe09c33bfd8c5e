import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArgumentError, CheckpointError } from '../errors.js';
import { decodeFlaxCheckpoint, encodeFlaxCheckpoint, type FlaxTree, type FlaxWriteOptions } from './flax.js';
import { MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE, setLocalFiles, type ModelFileSource, type ModelFolderConfig } from './model.js';
import { FileProgress, type ProgressCallback } from './progress.js';
import type { OpenedFile } from './remote.js';
import { encodeSafetensorsHeader, tensorData, type TensorBytes } from './safetensors.js';

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

/** A model folder on disk. */
export function localModelFolder(dir: string | URL): ModelFileSource {
  const path = toPath(dir);
  return { location: path, open: (file) => openLocalFile(join(path, file)) };
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

/** Writes pieces to a new file, coalescing small ones, then flushes it to disk. */
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
  await handle.sync();
}

/** Writes a file through a temporary file beside it, renamed into place once complete and synced. */
async function writeAtomically(path: string, write: (handle: FileHandle) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx');
  try {
    try {
      await write(handle);
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

function* safetensorsPieces(tensors: readonly TensorBytes[], metadata: Readonly<Record<string, string>>): Generator<Uint8Array> {
  yield encodeSafetensorsHeader(tensors, metadata).bytes;
  // One tensor's bytes at a time: lazy tensors are converted as they are written.
  for (const t of tensors) yield tensorData(t);
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
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (error) {
    if (notFound(error)) throw new ArgumentError('checkpoint', `${path} does not exist`);
    throw error;
  }
  if (size === 0) throw new CheckpointError(`${path} is empty`);
  return decodeFlaxCheckpoint(await readFileWithProgress(path, onProgress), path);
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
 * Writes a model folder atomically: config.json and model.safetensors go into a temporary
 * folder beside `dir` (weights first, config last, each synced), which is then renamed into
 * place. An existing model folder at `dir` is replaced (moved aside, then removed); any other
 * non-empty folder is refused. A crash leaves either the old folder, no folder, or the new one,
 * plus a hidden `.<name>.*` leftover — never a partial folder that loads. `extraFiles` are
 * written into the temporary folder too, before config.json.
 */
export async function writeModelFolder(
  dir: string,
  config: ModelFolderConfig,
  tensors: readonly TensorBytes[],
  options: WriteOptions & { metadata?: Record<string, string>; extraFiles?: readonly ExtraFile[] } = {},
): Promise<void> {
  const target = resolve(dir);
  for (const f of options.extraFiles ?? []) {
    if (f.name !== basename(f.name) || f.name.startsWith('.') || f.name === MODEL_CONFIG_FILE || f.name === MODEL_WEIGHTS_FILE) {
      throw new ArgumentError('extraFiles', `"${f.name}" must be a plain file name other than ${MODEL_CONFIG_FILE} and ${MODEL_WEIGHTS_FILE}`);
    }
  }
  const parent = dirname(target);
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
  const tag = randomBytes(6).toString('hex');
  const tmp = join(parent, `.${basename(target)}.${tag}.tmp`);
  await mkdir(tmp);
  try {
    await writeSafetensorsFile(join(tmp, MODEL_WEIGHTS_FILE), tensors, { format: 'maskgit', ...options.metadata }, options);
    for (const f of options.extraFiles ?? []) {
      if (typeof f.data === 'string' || f.data instanceof Uint8Array) {
        const data = f.data;
        await writeAtomically(join(tmp, f.name), async (handle) => {
          await handle.writeFile(data);
          await handle.sync();
        });
      } else await writeSafetensorsFile(join(tmp, f.name), f.data.tensors, f.data.metadata ?? {});
    }
    await writeAtomically(join(tmp, MODEL_CONFIG_FILE), async (handle) => {
      await handle.writeFile(JSON.stringify(config, null, 2) + '\n');
      await handle.sync();
    });
    if (existing) {
      const old = join(parent, `.${basename(target)}.${tag}.old`);
      await rename(target, old);
      await rename(tmp, target);
      await rm(old, { recursive: true, force: true });
    } else await rename(tmp, target);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}
