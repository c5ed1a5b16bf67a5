/**
 * Visiting what lies under a folder, bounded: the one traversal behind the
 * dev watcher's polled static roots and `kirin check`'s scan of them. Each
 * caller keeps its own rule of what to skip and what to collect (the watcher
 * skips node_modules and .git; the check reports dotfiles and links); what
 * they share is the walk: breadth first, links never followed (readdir's
 * entries say what the link is, not what it points to, so a loop cannot keep
 * it going), unreadable folders passed over, and a cap on the entries seen so
 * a huge tree cannot stall the caller.
 */
import { readdirSync, type Dirent } from 'node:fs';
import { join } from 'node:path';

/**
 * Calls `visit` for each entry under `root`; a directory is entered when `visit` returns true.
 * Returns false when it stopped at `limit` entries before the end.
 */
export function walkTree(root: string, limit: number, visit: (path: string, entry: Dirent, dir: string) => boolean): boolean {
  const queue = [root];
  let seen = 0;
  for (let next = 0; next < queue.length; next++) {
    const dir = queue[next]!;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (++seen > limit) return false;
      const path = join(dir, entry.name);
      if (visit(path, entry, dir) && entry.isDirectory()) queue.push(path);
    }
  }
  return true;
}
