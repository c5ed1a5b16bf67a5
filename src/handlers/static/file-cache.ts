/**
 * What each request path resolved to, kept for a short time so the hot path
 * is one Map lookup: no realpath, no stat, no read per request.
 *
 * Freshness is stat-based: an answer is used for `revalidateMs` (1 s), then
 * the path is resolved again (realpath, boundary checks, stat of the file and
 * its sidecars); a file whose inode, size and mtime did not change keeps its
 * bytes and heads, one that changed is read again. So a change on disk is
 * served within about a second, and a hot file costs a few syscalls a second.
 * (fs.watch was the alternative: one inotify watch per folder, a limit on
 * watches per user, and no events through symlinked roots or network file
 * systems — stat polling works everywhere and its cost is measured in the docs.)
 *
 * Memory is bounded: at most `maxPaths` answers and files, and `maxBytes` of
 * file bytes, the oldest dropped first. Concurrent misses on one path share one
 * resolution.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../observe/log.ts';
import { fingerprintOf, loadEntry, type EntrySettings, type FileEntry } from './file-entry.ts';
import { resolvePath, type ResolvedFile } from './resolve.ts';

export type AnswerKind = 'file' | 'redirect' | 'missing' | 'hidden' | 'forbidden';

export interface Answer {
  readonly kind: AnswerKind;
  /** For 'file'. */
  readonly entry: FileEntry | null;
  /** performance.now() until which the answer may be used. */
  readonly until: number;
}

export interface CacheOptions {
  root: string;
  index: readonly string[];
  /** The SPA file, relative to the root ('/index.html'), or null. */
  spa: string | null;
  /** How many leading characters of a request path are the route prefix (not part of the file path). */
  prefixLength: number;
  entry: EntrySettings;
  revalidateMs: number;
  maxPaths: number;
  maxBytes: number;
  logger: Logger;
}

/** A key no request path can be (NUL is refused before the handler runs). */
const SPA_KEY = '\0spa';
const STALE_WARNINGS_KEPT = 1000;

export class FileCache {
  readonly #options: CacheOptions;
  readonly #answers = new Map<string, Answer>();
  readonly #pending = new Map<string, Promise<Answer>>();
  /** Loaded files by real path and name, so paths that reach one file (SPA routes, '/' and '/index.html') share its bytes. */
  readonly #entries = new Map<string, FileEntry>();
  #bytes = 0;
  readonly #warned = new Set<string>();

  constructor(options: CacheOptions) {
    this.#options = options;
  }

  /** The answer for `path` if it is still fresh at `now`. */
  peek(path: string, now: number): Answer | undefined {
    const answer = this.#answers.get(path);
    return answer !== undefined && now < answer.until ? answer : undefined;
  }

  /** Resolves `path` again (sharing a resolution already under way). Throws on I/O errors. */
  lookup(path: string): Promise<Answer> {
    let pending = this.#pending.get(path);
    if (pending === undefined) {
      pending = this.#resolve(path).finally(() => this.#pending.delete(path));
      this.#pending.set(path, pending);
    }
    return pending;
  }

  /** Forgets `path` (a stream found its file changed under it). */
  invalidate(path: string): void {
    this.#answers.delete(path);
  }

  /** Bytes of file content held in memory. */
  get bytes(): number {
    return this.#bytes;
  }

  clear(): void {
    this.#answers.clear();
    this.#entries.clear();
    this.#bytes = 0;
  }

  async #resolve(path: string): Promise<Answer> {
    const options = this.#options;
    const relative = path === SPA_KEY ? options.spa! : path.slice(options.prefixLength);
    const resolution = await resolvePath(relative, options);
    const until = performance.now() + options.revalidateMs;
    let answer: Answer;
    if (resolution.kind === 'file') {
      answer = { kind: 'file', entry: await this.#entryFor(resolution), until };
    } else if (resolution.kind === 'missing' && options.spa !== null && path !== SPA_KEY && isAppRoute(relative)) {
      const spa = this.peek(SPA_KEY, performance.now()) ?? (await this.lookup(SPA_KEY));
      // Never fresher than the SPA file's own answer, so a new index.html shows within one period.
      answer = spa.kind === 'file' ? { kind: 'file', entry: spa.entry, until: Math.min(until, spa.until) } : { kind: 'missing', entry: null, until };
    } else {
      answer = { kind: resolution.kind, entry: null, until };
    }
    if (!this.#answers.has(path) && this.#answers.size >= options.maxPaths) {
      this.#answers.delete(this.#answers.keys().next().value!);
    }
    this.#answers.set(path, answer);
    return answer;
  }

  async #entryFor(resolved: ResolvedFile): Promise<FileEntry> {
    for (const path of resolved.stale) this.#warnStale(path);
    const key = `${resolved.identity.path}\0${resolved.name}`;
    const known = this.#entries.get(key);
    if (known !== undefined && known.fingerprint === fingerprintOf(resolved)) return known;
    const entry = await loadEntry(resolved, this.#options.entry);
    const current = this.#entries.get(key);
    if (current !== undefined) {
      this.#bytes -= current.bytes;
      this.#entries.delete(key);
    }
    this.#entries.set(key, entry);
    this.#bytes += entry.bytes;
    // Oldest first. A dropped entry may still be served by answers that hold it, until they expire.
    for (const [oldKey, old] of this.#entries) {
      if ((this.#bytes <= this.#options.maxBytes && this.#entries.size <= this.#options.maxPaths) || this.#entries.size <= 1) break;
      this.#entries.delete(oldKey);
      this.#bytes -= old.bytes;
    }
    return entry;
  }

  #warnStale(path: string): void {
    if (this.#warned.has(path) || this.#warned.size >= STALE_WARNINGS_KEPT) return;
    this.#warned.add(path);
    this.#options.logger.warn({ sidecar: path }, 'static: ignoring a precompressed file older than its original; rebuild it (gzip -k / brotli -k)');
  }
}

/**
 * Does a missing path look like a page of a single-page app (so it gets the
 * SPA file) rather than a missing asset (so it gets 404)? A last segment with
 * a dot ('/assets/app.js', '/favicon.ico') is a file name: answering it with
 * index.html would hand a script or image an HTML page.
 */
export function isAppRoute(relative: string): boolean {
  return !relative.slice(relative.lastIndexOf('/') + 1).includes('.');
}
