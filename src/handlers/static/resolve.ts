/**
 * From a request path to a file on disk, safely.
 *
 * The path the handler gets is already decoded and normalized (no `..`, no
 * backslash, no NUL); the checks here are repeated anyway, because this is
 * the last place between a URL and the file system:
 * - a segment that starts with '.' (`.env`, `.git/config`) is never served;
 *   `.well-known` at the top of the root is the one exception (security.txt,
 *   app links, ACME files a user places there) — nothing dotted below it;
 * - the file's real path (symlinks resolved) must lie inside the root's real
 *   path with a path-boundary check: `/srv/root-secret` is not inside
 *   `/srv/root`; the real path gets the dotfile check too, so a symlink to a
 *   dotfile inside the root stays hidden;
 * - a folder is served through its index file, never listed; a folder asked
 *   for without its trailing slash is redirected (only when it has an index,
 *   so a redirect does not reveal which folders exist);
 * - only regular files are served (not FIFOs or devices).
 * Precompressed sidecars (`file.br`, `file.gz`) pass the same checks, and one
 * older than its file is ignored: it is left over from an earlier build.
 */
import type { Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { sep } from 'node:path';

export interface FoundFile {
  /** The real path (symlinks resolved). */
  path: string;
  stats: Stats;
}

export interface ResolvedFile {
  kind: 'file';
  /** The name the client asked for (or the index file's name): decides the type and immutability. */
  name: string;
  identity: FoundFile;
  br: FoundFile | null;
  gzip: FoundFile | null;
  /** Sidecars skipped because they are older than the file (for a warning). */
  stale: string[];
}

export type Resolution =
  | ResolvedFile
  /** A folder with an index, asked for without its trailing slash. */
  | { kind: 'redirect' }
  /** Nothing there (an SPA may answer instead). */
  | { kind: 'missing' }
  /** Refused: a dotfile or a path leaving the root. Never an SPA fallback. */
  | { kind: 'hidden' }
  /** The file system refused us (EACCES). */
  | { kind: 'forbidden' };

const MISSING: Resolution = { kind: 'missing' };
const HIDDEN: Resolution = { kind: 'hidden' };
const FORBIDDEN: Resolution = { kind: 'forbidden' };
const REDIRECT: Resolution = { kind: 'redirect' };

/** Errors that mean "no such file here". */
const NOT_FOUND = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP']);
const DENIED = new Set(['EACCES', 'EPERM']);

/**
 * May this path (relative to the root, '/'-separated) be served? False for a
 * dot segment, a dotfile or dot-folder (but a leading `.well-known`), NUL or
 * backslash.
 */
export function isServablePath(path: string): boolean {
  if (path.includes('\0') || path.includes('\\')) return false;
  if (!path.includes('/.')) return true;
  const segments = path.split('/');
  let first = true;
  for (const segment of segments) {
    if (segment === '') continue;
    if (segment.charCodeAt(0) === 46 /* . */ && !(first && segment === '.well-known')) return false;
    first = false;
  }
  return true;
}

/** Is `path` the root itself or below it? A boundary check, not a prefix check. */
export function isInside(root: string, path: string): boolean {
  if (path === root) return true;
  const base = root.endsWith(sep) ? root : root + sep;
  return path.startsWith(base);
}

export interface ResolveOptions {
  /** The root as configured (absolute; may be a symlink, e.g. /srv/current → /srv/releases/42). */
  root: string;
  /** Index file names, in order. */
  index: readonly string[];
}

/**
 * Resolves `relative` ('/a/b.css', '/docs/', or '' for the root asked for
 * without its slash) under the root. Throws on unexpected I/O errors.
 */
export async function resolvePath(relative: string, options: ResolveOptions): Promise<Resolution> {
  if (!isServablePath(relative)) return HIDDEN;
  // The root's real path is taken again each time: a deploy that flips a symlink moves it.
  const realRoot = await realpathOr(options.root);
  if (typeof realRoot !== 'string') return realRoot === FORBIDDEN ? FORBIDDEN : MISSING;
  const wantsFolder = relative.endsWith('/');
  const requested = relative === '' ? options.root : options.root.endsWith('/') ? options.root + relative.slice(1) : options.root + relative;
  const found = await locate(requested, realRoot);
  if (!('path' in found)) return found;
  let file = found;
  let filePath = requested;
  let name = relative.slice(relative.lastIndexOf('/') + 1);
  if (found.stats.isDirectory()) {
    const index = await findIndex(requested, realRoot, options.index);
    if (index === null) return MISSING;
    if (!wantsFolder) return REDIRECT;
    file = index.found;
    filePath = index.path;
    name = index.name;
  } else if (!found.stats.isFile() || wantsFolder) {
    return MISSING;
  }
  const stale: string[] = [];
  const br = await sidecar(`${filePath}.br`, realRoot, file, stale);
  const gzip = await sidecar(`${filePath}.gz`, realRoot, file, stale);
  return { kind: 'file', name, identity: file, br, gzip, stale };
}

async function findIndex(folder: string, realRoot: string, names: readonly string[]): Promise<{ found: FoundFile; path: string; name: string } | null> {
  const base = folder.endsWith('/') ? folder : `${folder}/`;
  for (const name of names) {
    if (name === '' || name.includes('/') || !isServablePath(`/${name}`)) continue;
    const path = base + name;
    const found = await locate(path, realRoot);
    if ('path' in found && found.stats.isFile()) return { found, path, name };
  }
  return null;
}

async function sidecar(path: string, realRoot: string, file: FoundFile, stale: string[]): Promise<FoundFile | null> {
  const found = await locate(path, realRoot);
  if (!('path' in found) || !found.stats.isFile()) return null;
  // gzip -k and brotli -k keep the file's mtime; an older sidecar predates the file's last change.
  if (found.stats.mtimeMs < file.stats.mtimeMs) {
    stale.push(path);
    return null;
  }
  return found;
}

/** realpath + boundary + dotfile checks + stat. */
async function locate(path: string, realRoot: string): Promise<FoundFile | Resolution> {
  const real = await realpathOr(path);
  if (typeof real !== 'string') return real;
  if (!isInside(realRoot, real)) return HIDDEN;
  // The part below the root, with its leading separator, gets the dotfile rule too.
  if (!isServablePath(real.slice(realRoot.endsWith(sep) ? realRoot.length - 1 : realRoot.length))) return HIDDEN;
  try {
    return { path: real, stats: await stat(real) };
  } catch (error) {
    return classify(error);
  }
}

async function realpathOr(path: string): Promise<string | Resolution> {
  try {
    return await realpath(path);
  } catch (error) {
    return classify(error);
  }
}

function classify(error: unknown): Resolution {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (NOT_FOUND.has(code)) return MISSING;
  if (DENIED.has(code)) return FORBIDDEN;
  throw error;
}
