/**
 * Watching the files `kirin dev` restarts for. Directories are watched, not
 * files (inotify through fs.watch): an editor that saves by writing a temp
 * file and renaming it over the original (vim, JetBrains) replaces the inode
 * a per-file watch holds — node --watch misses those saves (nodejs/node#52879)
 * — while the directory sees the new name arrive.
 *
 * Where inotify hears nothing of changes made elsewhere (NFS, SMB, 9p as in
 * WSL2 and VM shares, FUSE mounts such as Docker Desktop's), or cannot watch
 * (out of inotify watches), that directory is polled instead, by itself;
 * `--poll` polls everything. Idle cost with events: none — no timer runs.
 *
 * File systems not on that list can hide changes too (an overlay whose upper
 * layer the host edits, a bind mount into a VM). A probe cannot find them:
 * a file this process touches there raises an event like anywhere else; only
 * changes made on the other side are lost. So `verify()` looks, when asked
 * (kirin dev asks when requests come, at most once a second), for a watched
 * file whose size, mtime or inode moved without an event; its directory is
 * polled from then on, and the change counts.
 */
import { statfsSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import { walkTree } from '../util/walk-tree.ts';
import { isIgnoredPath } from './module-graph.ts';

/** An event can trail its change by a little: a file seen changed without one is looked at again after this long. */
const EVENT_GRACE_MS = 300;

/** statfs f_type of file systems whose changes made by another machine or the host raise no inotify event. */
const REMOTE_FILE_SYSTEMS = new Map<number, string>([
  [0x6969, 'NFS'],
  [0x517b, 'SMB'],
  [0xff534d42, 'CIFS'],
  [0xfe534d42, 'SMB2'],
  [0x01021997, '9p'],
  [0x65735546, 'FUSE'],
  [0x786f4256, 'vboxsf'],
  [0x00c36400, 'Ceph'],
]);

/** Why a directory must be polled, or null when inotify works there. */
export function pollingReason(dir: string, statfs: (path: string) => { type: number } = statfsSync): string | null {
  try {
    const kind = REMOTE_FILE_SYSTEMS.get(statfs(dir).type);
    return kind ? `${dir} is on ${kind}, where file events do not arrive` : null;
  } catch {
    return null;
  }
}

export interface WatcherOptions {
  /** Poll everything (--poll). */
  poll: boolean;
  pollIntervalMs: number;
  onChange(path: string): void;
  /** Told once per directory that falls back to polling. */
  onPolling(reason: string): void;
}

/** What a polled file looked like last time: changed when any part differs ('' when missing). */
function signature(path: string): string {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return '';
  }
}

export class FileWatcher {
  readonly #options: WatcherOptions;
  /** Watched files, by the directory that holds them. */
  readonly #files = new Map<string, Set<string>>();
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #trees = new Set<string>();
  /** Polled files (and every file of a polled tree) → their last signature. */
  readonly #polled = new Map<string, string>();
  readonly #polledTrees = new Set<string>();
  /** Files watched by events → their signature when last heard of, for verify(). */
  readonly #seen = new Map<string, string>();
  #timer: NodeJS.Timeout | null = null;
  #recheck: NodeJS.Timeout | null = null;

  constructor(options: WatcherOptions) {
    this.#options = options;
  }

  get polling(): boolean {
    return this.#timer !== null;
  }

  /** Watches these files (their directories); already watched ones are ignored. */
  addFiles(paths: Iterable<string>): void {
    for (const path of paths) {
      if (isIgnoredPath(path)) continue;
      const dir = dirname(path);
      let files = this.#files.get(dir);
      if (files?.has(path)) continue;
      if (!files) {
        files = new Set();
        this.#files.set(dir, files);
        if (!this.#watchDirectory(dir, false)) this.#startPolling();
      }
      files.add(path);
      if (this.#watchers.has(dir)) this.#seen.set(path, signature(path));
      else this.#polled.set(path, signature(path));
    }
  }

  /** Watches everything under a directory (a static root). */
  addTree(root: string): void {
    if (this.#trees.has(root)) return;
    this.#trees.add(root);
    if (!this.#watchDirectory(root, true)) {
      this.#polledTrees.add(root);
      for (const file of walk(root)) this.#polled.set(file, signature(file));
      this.#startPolling();
    }
  }

  /**
   * Looks for watched files that changed without an event; after a short grace (an event may be on
   * its way), the directories of those still unheard are polled from then on and their changes count.
   */
  verify(): void {
    if (this.#recheck !== null) return;
    const suspects = this.#changedUnheard();
    if (suspects.length === 0) return;
    this.#recheck = setTimeout(() => {
      this.#recheck = null;
      const still = this.#changedUnheard().filter((path) => suspects.includes(path));
      for (const dir of new Set(still.map((path) => dirname(path)))) this.#pollInstead(dir, `${still.find((p) => dirname(p) === dir)} changed but no file event arrived for it: ${dir} does not report changes made outside this system (a container, VM or network mount)`);
      if (still.length > 0) this.#pollOnce();
    }, EVENT_GRACE_MS);
    this.#recheck.unref();
  }

  close(): void {
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#recheck) clearTimeout(this.#recheck);
    this.#recheck = null;
  }

  #changedUnheard(): string[] {
    const changed: string[] = [];
    for (const [path, before] of this.#seen) if (signature(path) !== before) changed.push(path);
    return changed;
  }

  /** Stops listening for events on a directory; its files are polled, from what was last heard of them. */
  #pollInstead(dir: string, reason: string | null): void {
    this.#watchers.get(dir)?.close();
    this.#watchers.delete(dir);
    if (reason !== null) this.#options.onPolling(reason);
    for (const file of this.#files.get(dir) ?? []) {
      this.#polled.set(file, this.#seen.get(file) ?? signature(file));
      this.#seen.delete(file);
    }
    this.#startPolling();
  }

  /** True when inotify watches it; false when it must be polled. */
  #watchDirectory(dir: string, recursive: boolean): boolean {
    const reason = this.#options.poll ? null : pollingReason(dir);
    if (this.#options.poll) return false;
    if (reason) {
      this.#options.onPolling(reason);
      return false;
    }
    try {
      const watcher = watch(dir, { recursive, persistent: false }, (_event, name) => this.#heard(dir, recursive, name));
      // The directory went away (a branch switch): the files it held are checked by polling from now on.
      watcher.on('error', () => this.#pollInstead(dir, null));
      this.#watchers.set(dir, watcher);
      return true;
    } catch (error) {
      this.#options.onPolling(`cannot watch ${dir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; raise fs.inotify.max_user_watches to avoid polling)`);
      return false;
    }
  }

  #heard(dir: string, recursive: boolean, name: string | Buffer | null): void {
    if (name === null) return;
    const path = join(dir, String(name));
    if (recursive) {
      if (!isIgnoredPath(path)) this.#options.onChange(path);
    } else if (this.#files.get(dir)?.has(path)) {
      this.#seen.set(path, signature(path));
      this.#options.onChange(path);
    }
  }

  #startPolling(): void {
    this.#timer ??= setInterval(() => this.#pollOnce(), this.#options.pollIntervalMs);
    this.#timer.unref();
  }

  #pollOnce(): void {
    for (const root of this.#polledTrees) for (const file of walk(root)) if (!this.#polled.has(file)) this.#polled.set(file, '');
    for (const [path, before] of this.#polled) {
      const now = signature(path);
      if (now === before) continue;
      this.#polled.set(path, now);
      this.#options.onChange(path);
    }
  }
}

/** The files under a directory, skipping node_modules and .git; bounded, so a huge tree cannot stall a poll. */
function walk(root: string, limit = 20_000): string[] {
  const files: string[] = [];
  walkTree(root, limit, (path, entry) => {
    if (isIgnoredPath(path)) return false;
    if (!entry.isDirectory()) files.push(path);
    return true;
  });
  return files;
}
