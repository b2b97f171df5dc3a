/*
 * The usage spool's lock file: one process per spool folder, so two never append to (or replay and delete) the same
 * segments. The file holds the owner's pid; a lock whose pid is gone, or is our own, is stale and taken over.
 */
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class SpoolLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(
      `USAGE_SPOOL_DIR ${dir} is in use by another running gateway (pid ${pid}): give each instance a spool folder of its own ` +
        `(or set USAGE_SPOOL_DIR=off)`,
    );
    this.name = 'SpoolLockedError';
  }
}

/** Is a process with this pid running (as any user)? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it is only someone else's
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function pidIn(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A stale lock: no pid readable, a dead one, or our own (a container restarts its gateway as pid 1 again). */
const stale = (pid: number | undefined) => pid === undefined || pid === process.pid || !alive(pid);

/**
 * Takes `dir/.lock` for this process; throws SpoolLockedError when a live other process holds it. Returns the
 * release (removes the lock if it is still ours).
 */
export function takeSpoolLock(dir: string): () => void {
  const lock = join(dir, '.lock');
  const mine = join(dir, `.lock.${process.pid}`);
  writeFileSync(mine, `${process.pid}\n`);
  try {
    for (let tries = 0; ; tries++) {
      try {
        // link, unlike a write, fails when the lock exists: two starting processes cannot both take it
        linkSync(mine, lock);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 5) throw err;
      }
      const holder = pidIn(lock);
      if (!stale(holder)) throw new SpoolLockedError(dir, holder!);
      // moved aside (atomic) before it is judged again: if another starter replaced it meanwhile with a live lock,
      // that one is put back and this start fails
      const aside = join(dir, `.lock.stale.${process.pid}`);
      try {
        renameSync(lock, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const moved = pidIn(aside);
      if (moved !== holder && !stale(moved)) {
        try {
          linkSync(aside, lock);
        } catch {
          // a third starter took it meanwhile: it is theirs either way
        }
        unlinkSync(aside);
        throw new SpoolLockedError(dir, moved!);
      }
      unlinkSync(aside);
    }
  } finally {
    unlinkSync(mine);
  }
  return () => {
    try {
      if (pidIn(lock) === process.pid) unlinkSync(lock);
    } catch {
      // gone already: nothing to release
    }
  };
}
