/**
 * One trainer per checkpoint: `<dir>.lock`, a sibling of the checkpoint folder (the folder itself is
 * replaced wholesale by every save, so a file inside it would not last), holds the pid of the process
 * training into `<dir>`. Without it two `train` runs into one --checkpoint both printed "done" and
 * the last writer silently won.
 *
 * - Taken atomically: the pid is written to a private temp file, which is then hard-linked to the
 *   lock name. link(2) fails with EEXIST exactly like open(O_CREAT | O_EXCL), but the file is
 *   complete the instant it exists, so no reader ever sees an empty lock. Filesystems without hard
 *   links fall back to open(..., 'wx').
 * - A lock whose pid is not alive (a trainer killed with SIGKILL, a power cut) is stale and taken over.
 * - Released on every exit path: by `release()` (the trainer's finally) and by a process 'exit'
 *   handler (signals end through process.exit, errors through the same exit).
 * - Re-entrant within a process: the CLI takes the lock at start, the trainer takes it again.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { EngineError } from './errors.js';

/** Another live process trains into the checkpoint (or the lock cannot be taken). One line. */
export class TrainLockError extends EngineError {
  override readonly name = 'TrainLockError';
  constructor(
    message: string,
    /** The pid of the process holding the lock, when that is what stopped us. */
    readonly holderPid?: number,
  ) {
    super(message);
  }
}

export interface TrainLock {
  readonly file: string;
  /** Drops this holder's claim; the file goes when the last claim of this process is dropped. Idempotent. */
  release(): void;
}

interface Held {
  file: string;
  token: string;
  claims: number;
}

const held = new Map<string, Held>();
let exitHookInstalled = false;

/** The lock file of checkpoint `dir`. */
export function lockFileOf(dir: string): string {
  return `${path.resolve(dir)}.lock`;
}

/** Whether a process with this pid exists (EPERM: it exists, it is someone else's). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface LockContent {
  pid: number;
  token: string;
}

function parseLock(text: string): LockContent | undefined {
  const [pidLine, token] = text.split('\n');
  const pid = Number(pidLine);
  if (!Number.isInteger(pid) || pid <= 0 || !token) return undefined;
  return { pid, token };
}

function readLock(file: string): { text: string; content: LockContent | undefined } | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return { text, content: parseLock(text) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Creates `file` holding `text`, atomically; false if it exists. */
function createExclusive(file: string, text: string): boolean {
  const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    fs.writeFileSync(temp, text, { flag: 'wx' });
    try {
      fs.linkSync(temp, file);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
    }
  } finally {
    fs.rmSync(temp, { force: true });
  }
  // No hard links here: O_EXCL directly (a reader may then briefly see a partial file; it is treated as held).
  try {
    fs.writeFileSync(file, text, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function releaseHeld(entry: Held): void {
  // Only our own lock: never a lock another process took over after ours was judged stale.
  try {
    if (parseLock(fs.readFileSync(entry.file, 'utf8'))?.token === entry.token) fs.rmSync(entry.file, { force: true });
  } catch {
    // Already gone, or the folder is unreadable: nothing more can be done on the way out.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const entry of held.values()) releaseHeld(entry);
    held.clear();
  });
}

/**
 * Takes the lock of checkpoint `dir` for this process, or throws TrainLockError naming the pid that
 * holds it. Creates the parent folder if needed.
 */
export function acquireTrainLock(dir: string): TrainLock {
  const file = lockFileOf(dir);
  const existing = held.get(file);
  if (existing) {
    existing.claims++;
    return claimOf(existing);
  }
  const token = randomBytes(8).toString('hex');
  const text = `${process.pid}\n${token}\n`;
  const fail = (error: unknown): never => {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new TrainLockError(`cannot create the training lock ${file} (${code}); check the folder is writable, or pass another --checkpoint`);
  };
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  } catch (error) {
    fail(error);
  }
  for (let attempt = 0; attempt < 10; attempt++) {
    let created: boolean;
    try {
      created = createExclusive(file, text);
    } catch (error) {
      return fail(error);
    }
    if (created) {
      const entry: Held = { file, token, claims: 1 };
      held.set(file, entry);
      installExitHook();
      return claimOf(entry);
    }
    const found = readLock(file);
    if (found === undefined) continue; // released meanwhile: try again
    const { content } = found;
    if (content === undefined || pidAlive(content.pid)) {
      const holder = content === undefined ? 'another process (the lock is being written)' : `another process (pid ${content.pid})`;
      throw new TrainLockError(
        `${path.resolve(dir)} is being trained by ${holder}; wait for it to finish or stop it, or pass another --checkpoint (if no cvae-repl runs, delete ${file})`,
        content?.pid,
      );
    }
    // Stale: its process is gone. Move it aside under a private name (only one taker's rename
    // wins), check it is the stale lock that was read and not a fresh one, then retry.
    const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      fs.renameSync(file, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      return fail(error);
    }
    const moved = readLock(aside);
    if (moved?.content?.token !== content.token) {
      // Another taker replaced the stale lock first: give it back.
      try {
        fs.linkSync(aside, file);
      } catch {
        // A third process holds the name now; ours was the newer claim either way.
      }
    }
    fs.rmSync(aside, { force: true });
  }
  throw new TrainLockError(`cannot take the training lock ${file}: other processes keep taking it; try again`);
}

function claimOf(entry: Held): TrainLock {
  let released = false;
  return {
    file: entry.file,
    release() {
      if (released) return;
      released = true;
      entry.claims--;
      if (entry.claims > 0) return;
      held.delete(entry.file);
      releaseHeld(entry);
    },
  };
}
