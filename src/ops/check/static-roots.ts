/**
 * K017, K018: what lies in the folders Kirin serves. The static handler refuses
 * dotfiles and paths that resolve outside the root, so these are not holes
 * today; they are signs the root is the wrong folder (the project itself, with
 * its .git and .env) or that a deploy left links pointing elsewhere.
 */
import { realpathSync } from 'node:fs';
import { relative } from 'node:path';
import { walkTree } from '../../util/walk-tree.ts';
import { finding, type Finding } from './catalog.ts';
import type { AuditContext } from './context.ts';
import { isInside, staticRoots } from './env-files.ts';

/** Enough for any real site; a root bigger than this is reported as not fully read. */
const MAX_ENTRIES = 50_000;
const EXAMPLES = 5;

interface RootScan {
  dotfiles: string[];
  escapingLinks: { path: string; target: string }[];
  truncated: boolean;
}

export function scanStaticRoot(root: string): RootScan | null {
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch {
    return null;
  }
  const scan: RootScan = { dotfiles: [], escapingLinks: [], truncated: false };
  scan.truncated = !walkTree(root, MAX_ENTRIES, (path, entry, dir) => {
    // .well-known is public on purpose (ACME, security.txt, app links).
    if (entry.name.startsWith('.') && !(entry.name === '.well-known' && dir === root)) {
      scan.dotfiles.push(relative(root, path));
      return false;
    }
    if (entry.isSymbolicLink()) {
      let target: string;
      try {
        target = realpathSync(path);
      } catch {
        return false; // A dangling link serves nothing.
      }
      if (!isInside(realRoot, target)) scan.escapingLinks.push({ path: relative(root, path), target });
    }
    return true;
  });
  return scan;
}

export function checkStaticRoots(ctx: AuditContext): Finding[] {
  const findings: Finding[] = [];
  const scanned = new Set<string>();
  for (const { root, at } of staticRoots(ctx)) {
    if (scanned.has(root)) continue;
    scanned.add(root);
    const scan = scanStaticRoot(root);
    if (scan === null) continue;
    if (scan.truncated) ctx.notes.push(`${root} has more than ${MAX_ENTRIES} entries; K017/K018 looked at the first ${MAX_ENTRIES}`);
    if (scan.dotfiles.length > 0) {
      findings.push(
        finding(
          'K017',
          `${root} (${at}) contains ${scan.dotfiles.length} dotfile${scan.dotfiles.length === 1 ? '' : 's'}: ${list(scan.dotfiles)}. Kirin refuses to serve them, but a root holding them is usually the project folder`,
          `serve a folder that holds only public files (e.g. static: './public') or remove ${scan.dotfiles.slice(0, 2).join(', ')} from it`,
          root,
        ),
      );
    }
    if (scan.escapingLinks.length > 0) {
      findings.push(
        finding(
          'K018',
          `${root} (${at}) has symlinks that lead outside it: ${list(scan.escapingLinks.map((l) => `${l.path} → ${l.target}`))}. Kirin answers 404 for them`,
          'copy the files into the root, or point the route at the folder the links lead to',
          root,
        ),
      );
    }
  }
  return findings;
}

function list(items: string[]): string {
  const shown = items.slice(0, EXAMPLES).join(', ');
  return items.length > EXAMPLES ? `${shown} and ${items.length - EXAMPLES} more` : shown;
}
