import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Atomic writes on disk. Data goes to a temporary beside the target, named
 * `.<name>.<pid>-<random>.tmp`, which is renamed over the target once complete and synced. A
 * process killed mid-write leaves the old target (or none) plus that temporary; the pid in its
 * name tells a later writer that its owner is gone, so the leftover can be removed (or, for a
 * model folder, used to finish the interrupted replacement).
 */

/** A leftover of an atomic write of `target`, as found in its folder. */
export interface Leftover {
  readonly path: string;
  readonly pid: number;
  /** The write it belongs to: its temporary (`tmp`) and the target moved aside (`old`) share it. */
  readonly tag: string;
  readonly kind: 'tmp' | 'old';
}

/** A fresh temporary name (and its tag) beside `target`. */
export function temporaryPath(target: string, kind: 'tmp' | 'old', tag = `${process.pid}-${randomBytes(6).toString('hex')}`): { path: string; tag: string } {
  return { path: join(dirname(target), `.${basename(target)}.${tag}.${kind}`), tag };
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true; // another write of this process may be running
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The leftovers of atomic writes of `target` whose writing process has exited (killed mid-write).
 * Writes of live processes are never touched. (Pids say nothing across machines: on a shared
 * network folder a live writer elsewhere looks dead.)
 */
export async function deadLeftovers(target: string): Promise<Leftover[]> {
  const prefix = `.${basename(target)}.`;
  let names: string[];
  try {
    names = await readdir(dirname(target));
  } catch {
    return [];
  }
  const out: Leftover[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-([0-9a-f]{12})\.(tmp|old)$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (!processAlive(pid)) out.push({ path: join(dirname(target), name), pid, tag: `${m[1]}-${m[2]}`, kind: m[3] as 'tmp' | 'old' });
  }
  return out;
}

/** Flushes a folder's entries (renames) to disk where the platform allows it; best effort. */
export async function syncFolder(dir: string): Promise<void> {
  let handle: FileHandle | null = null;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Not supported everywhere (Windows); the renames are still atomic, only less durable.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Writes a file through a temporary beside it, synced and renamed into place. Leftovers of
 * earlier writes of the same file by processes that have exited are removed first.
 */
export async function writeAtomically(path: string, write: (handle: FileHandle) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  for (const leftover of await deadLeftovers(path)) await rm(leftover.path, { recursive: true, force: true });
  const { path: tmp } = temporaryPath(path, 'tmp');
  const handle = await open(tmp, 'wx');
  try {
    try {
      await write(handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await syncFolder(dirname(path));
}

/**
 * Writes a file atomically: a crash mid-write leaves the old file (or none), never a
 * half-written one.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await writeAtomically(path, (handle) => handle.writeFile(data));
}
