/**
 * Can the service user reach a file? It needs search (x) permission on every
 * folder on the way and the right permission on the file itself. The classic
 * failure is a Node installed by nvm under /root (mode 700): root runs it, the
 * service user cannot, and systemd fails every start with status=203/EXEC.
 * The permission bits are read the way the kernel does: owner, else group,
 * else other; root passes every folder and needs one x bit on a program.
 */
import { realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Identity {
  /** The user's uid, or null for a user that does not exist yet (only "other" bits apply). */
  uid: number | null;
  gids: number[];
}

export type Need = 'execute' | 'read';

const BITS: Record<Need | 'search', number> = { execute: 1, search: 1, read: 4 };

/** Why `who` cannot `need` the file at `path` (following symlinks, checking where they lead too), or null. */
export function accessProblem(path: string, who: Identity, need: Need): string | null {
  let real = path;
  try {
    real = realpathSync(path);
  } catch {
    return null; // A missing file is said elsewhere (the unit names it; systemd says so).
  }
  for (const candidate of real === path ? [path] : [path, real]) {
    const problem = chainProblem(candidate, who, need);
    if (problem) return problem;
  }
  return null;
}

function chainProblem(path: string, who: Identity, need: Need): string | null {
  const folders: string[] = [];
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    folders.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const folder of folders) {
    const problem = lacks(folder, who, 'search');
    if (problem) return problem;
  }
  return lacks(path, who, need);
}

function lacks(path: string, who: Identity, need: Need | 'search'): string | null {
  let mode: number;
  let uid: number;
  let gid: number;
  try {
    ({ mode, uid, gid } = statSync(path));
  } catch {
    return null;
  }
  const bit = BITS[need];
  let allowed: boolean;
  if (who.uid === 0) allowed = need !== 'execute' || (mode & 0o111) !== 0;
  else if (who.uid === uid) allowed = ((mode >> 6) & bit) !== 0;
  else if (who.gids.includes(gid)) allowed = ((mode >> 3) & bit) !== 0;
  else allowed = (mode & bit) !== 0;
  if (allowed) return null;
  const what = need === 'search' ? 'may not enter the folder' : `may not ${need}`;
  return `${what} ${path} (mode ${(mode & 0o777).toString(8)}, owner ${uid === 0 ? 'root' : `uid ${uid}`}, group ${gid === 0 ? 'root' : `gid ${gid}`})`;
}
