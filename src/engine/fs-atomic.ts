/**
 * Writes that never leave a user's file or directory half-written: everything goes to a sibling
 * `<target>.partial-*` (same directory, so the final rename is atomic), is fsynced, and only then
 * renamed over the target. Used for PNGs, checkpoints and the classifier.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** A sibling name no other writer uses; `removeStalePartials` recognises it. */
function partialPathOf(target: string): string {
  return `${target}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Writes `data` to `file` and fsyncs it before returning. */
export async function writeFileSynced(file: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The errors with which fsync says it cannot sync a directory (some filesystems, e.g. certain
 * network and FUSE mounts): the renames are still atomic there, only not forced to disk.
 * ENOTSUP and EOPNOTSUPP are one errno on Linux; libuv names it ENOTSUP, other platforms may not.
 */
const FSYNC_UNSUPPORTED = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP']);

/** What `fsyncDir` needs of a directory handle (a seam for tests that inject a failing disk). */
export interface DirHandle {
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Fsyncs a directory, so the renames in it survive a power cut. A filesystem that does not support
 * it (EINVAL, ENOTSUP) is no failure; anything else (EIO: the disk failed) is thrown.
 */
export async function fsyncDir(dir: string, openDir: (dir: string) => Promise<DirHandle> = (d) => open(d, 'r')): Promise<void> {
  const handle = await openDir(dir);
  try {
    await handle.sync();
  } catch (error) {
    if (!FSYNC_UNSUPPORTED.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    await handle.close();
  }
}

/** Writes `data` to `file` atomically (temp file in the same directory, fsync, then rename); creates the parent directory. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const target = path.resolve(file);
  await mkdir(path.dirname(target), { recursive: true });
  const temp = partialPathOf(target);
  try {
    await writeFileSynced(temp, data);
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  // The file is complete either way; a directory we may write but not open (no read permission) is
  // no failure. A failing disk (EIO) is.
  await fsyncDir(path.dirname(target)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EACCES' && error.code !== 'EPERM') throw error;
  });
}

/** The sibling that holds the previous directory while `replaceDirAtomic` swaps directories. */
export function backupDirOf(dir: string): string {
  return `${path.resolve(dir)}.previous`;
}

/** Removes `<dir>.partial-*` left by writes that crashed midway. */
export async function removeStalePartials(dir: string): Promise<void> {
  const target = path.resolve(dir);
  const prefix = `${path.basename(target)}.partial-`;
  const entries = await readdir(path.dirname(target)).catch(() => [] as string[]);
  for (const entry of entries) if (entry.startsWith(prefix)) await rm(path.join(path.dirname(target), entry), { recursive: true, force: true });
}

/** Named points of a directory swap; a test hook that throws (or kills the process) there simulates a crash. */
export type DirSwapStage = 'files-written' | 'old-moved-aside' | 'new-in-place';

export interface ReplaceDirOptions {
  /**
   * Throws unless `dir` is the caller's to replace (never a user's folder). Called before writing and
   * again just before the swap, as the directory may have changed during the seconds the files took.
   */
  assertReplaceable?(): Promise<void>;
  /** Test hook, called at each stage. */
  onStage?(stage: DirSwapStage): void;
}

/**
 * Replaces directory `dir` wholesale with what `fill` writes into a fresh temp directory (use
 * `writeFileSynced` for its files). The temp directory is fsynced, the old `dir` renamed to
 * `<dir>.previous`, the new one to `<dir>`, and only then is the backup deleted. A valid directory
 * exists at every instant: `<dir>`, or `<dir>.previous` while `<dir>` is absent (`recoverDir` puts
 * it back). If `fill` throws, `dir` is untouched and the temp directory removed.
 */
export async function replaceDirAtomic(dir: string, fill: (temp: string) => Promise<void>, options: ReplaceDirOptions = {}): Promise<void> {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  const backup = backupDirOf(target);
  const temp = partialPathOf(target);
  try {
    await mkdir(parent, { recursive: true });
    await removeStalePartials(target);
    await options.assertReplaceable?.();
    await mkdir(temp);
    await fill(temp);
    await fsyncDir(temp);
    options.onStage?.('files-written');
    await options.assertReplaceable?.();

    // rename() cannot replace a non-empty directory: move the old one aside first.
    let movedAside = false;
    if (existsSync(target)) {
      if (existsSync(backup)) await rm(backup, { recursive: true, force: true }); // <dir> is the newer one
      await rename(target, backup);
      movedAside = true;
      await fsyncDir(parent);
      options.onStage?.('old-moved-aside');
    }
    try {
      await rename(temp, target);
    } catch (error) {
      if (movedAside) await rename(backup, target).catch(() => undefined);
      throw error;
    }
    await fsyncDir(parent);
    options.onStage?.('new-in-place');
    await rm(backup, { recursive: true, force: true });
  } catch (error) {
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }
}

/**
 * Finishes a swap that crashed between moving the old directory aside and putting the new one in
 * place: when `dir` is absent and `<dir>.previous` exists, renames it back. Returns whether `dir` exists now.
 */
export async function recoverDir(dir: string): Promise<boolean> {
  const target = path.resolve(dir);
  if (existsSync(target)) return true;
  const backup = backupDirOf(target);
  if (!existsSync(backup)) return false;
  await rename(backup, target);
  return true;
}
