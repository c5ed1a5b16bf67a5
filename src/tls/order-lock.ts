/**
 * One order per certificate at a time, across masters sharing a storage folder
 * and across restarts: a lock file created with O_EXCL. A lock whose process is
 * gone (same machine) or that is older than any order takes is stale and taken
 * over, so a crash mid-order never blocks the certificate for good.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { ensurePrivateDir } from './private-files.ts';

/** No order takes this long; a lock older than this was left behind. */
export const STALE_LOCK_MS = 15 * 60_000;

interface LockContent {
  pid: number;
  host: string;
  since: number;
}

export interface HeldLock {
  release(): void;
}

/** Takes the lock, or returns a description of who holds it. */
export function acquireLock(file: string, storageRoot: string, now = Date.now()): HeldLock | { heldBy: string } {
  ensurePrivateDir(storageRoot, dirname(file));
  const content: LockContent = { pid: process.pid, host: hostname(), since: now };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(content), { flag: 'wx', mode: 0o600 });
      return { release: () => rmSync(file, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readHolder(file);
    if (holder && !isStale(holder, now)) return { heldBy: `process ${holder.pid} on ${holder.host} since ${new Date(holder.since).toISOString()}` };
    rmSync(file, { force: true });
  }
  return { heldBy: 'another process (the lock file keeps coming back)' };
}

function readHolder(file: string): LockContent | null {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as LockContent;
    return typeof parsed.pid === 'number' && typeof parsed.since === 'number' ? parsed : null;
  } catch {
    return null;
  }
}

function isStale(holder: LockContent, now: number): boolean {
  if (now - holder.since > STALE_LOCK_MS) return true;
  if (holder.host !== hostname()) return false;
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
