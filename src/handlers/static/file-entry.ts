/**
 * What the handler keeps about one file: its representations (the file and
 * its .br/.gz sidecars), each with its validators, its response heads built
 * once, and — for small files — its bytes, so that serving it from memory is
 * one writeHead and one end.
 */
import type { Stats } from 'node:fs';
import { hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { INLINE_BODY_BYTES, PrebuiltResponse } from '../../worker/prebuilt-response.ts';
import type { Validators } from './conditional.ts';
import { looksHashed } from './hashed-name.ts';
import { contentTypeFor } from './mime.ts';
import type { FoundFile, ResolvedFile } from './resolve.ts';

/** One year, the longest max-age worth sending (RFC 9111 caches cap at about that). */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

export type ContentCoding = 'br' | 'gzip';

/** Files up to this size also keep a latin1 copy for single-write responses (node:http's path). */
const ONE_WRITE_BYTES = INLINE_BODY_BYTES;

export interface Variant extends Validators {
  readonly coding: ContentCoding | null;
  /** Real path, for streaming. */
  readonly path: string;
  readonly size: number;
  /** Identity of the file on disk when the entry was made: a stream checks it before sending. */
  readonly ino: number;
  readonly mtimeMs: number;
  /** The bytes, when the file is small enough to keep in memory. */
  readonly body: Buffer | null;
  /**
   * The same bytes as a latin1 string, for small files: Node then sends the
   * head and the body in one write instead of a writev of two buffers
   * (about 10% more 1 KiB responses per second). Latin1 maps bytes 1:1.
   */
  readonly bodyText: string | null;
  /** The 200 head, as flat [name, value, …] pairs. */
  readonly ok: string[];
  /** The 200 response for the worker's fast lane, for every file in memory (its bytes copied behind the head up to INLINE_BODY_BYTES). */
  readonly prebuilt: PrebuiltResponse | null;
  /** The 206 head without Content-Range and Content-Length. */
  readonly partial: string[];
  /** The 304 head. */
  readonly notModified: string[];
}

export interface FileEntry {
  readonly identity: Variant;
  readonly br: Variant | null;
  readonly gzip: Variant | null;
  /** Changes when any representation changes on disk (inode, size, mtime). */
  readonly fingerprint: string;
  /** Bytes held in memory. */
  readonly bytes: number;
}

export interface EntrySettings {
  /** Cache-Control for files that are not immutable ('' for none). */
  cacheControl: string;
  /** `immutable: true`: a year of caching for hashed names. */
  immutable: boolean;
  /** Files up to this size are kept in memory. */
  smallFileBytes: number;
}

export function fingerprintOf(resolved: ResolvedFile): string {
  let print = resolved.name;
  for (const found of [resolved.identity, resolved.br, resolved.gzip]) {
    print += found === null ? '|-' : `|${found.stats.ino}:${found.stats.size}:${found.stats.mtimeMs}`;
  }
  return print;
}

export async function loadEntry(resolved: ResolvedFile, settings: EntrySettings): Promise<FileEntry> {
  const type = contentTypeFor(resolved.name);
  const cacheControl = settings.immutable && looksHashed(resolved.name) ? IMMUTABLE_CACHE_CONTROL : settings.cacheControl;
  const varies = resolved.br !== null || resolved.gzip !== null;
  const lastModifiedMs = resolved.identity.stats.mtimeMs;
  const head = { type, cacheControl, varies, lastModifiedMs };
  const identity = await loadVariant(resolved.identity, null, head, settings.smallFileBytes);
  const br = resolved.br === null ? null : await loadVariant(resolved.br, 'br', head, settings.smallFileBytes);
  const gzip = resolved.gzip === null ? null : await loadVariant(resolved.gzip, 'gzip', head, settings.smallFileBytes);
  const bytes = heldBytes(identity) + (br === null ? 0 : heldBytes(br)) + (gzip === null ? 0 : heldBytes(gzip));
  return { identity, br, gzip, fingerprint: fingerprintOf(resolved), bytes };
}

/** What a variant keeps in memory: its bytes, and for small files their latin1 copy and the fast lane's copy behind the head. */
function heldBytes(variant: Variant): number {
  const body = variant.body?.length ?? 0;
  if (variant.body === null) return 0;
  return variant.bodyText === null ? body + HEAD_BYTES : 3 * body + HEAD_BYTES;
}

/** About what a response head takes. */
const HEAD_BYTES = 512;

interface HeadSettings {
  type: string;
  cacheControl: string;
  varies: boolean;
  lastModifiedMs: number;
}

async function loadVariant(found: FoundFile, coding: ContentCoding | null, head: HeadSettings, smallFileBytes: number): Promise<Variant> {
  let stats: Stats = found.stats;
  let body: Buffer | null = null;
  if (stats.size <= smallFileBytes) {
    // Size, identity and bytes from one open file, so they agree even if the file is being replaced.
    const handle = await open(found.path, 'r');
    try {
      stats = await handle.stat();
      if (stats.size <= smallFileBytes) body = await handle.readFile();
    } finally {
      await handle.close();
    }
  }
  const size = body === null ? stats.size : body.length;
  const suffix = coding === null ? '' : coding === 'br' ? '-br' : '-gz';
  // A content hash for files in memory: the same bytes keep their tag across deploys and servers.
  const etag = body === null ? `"${size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}${suffix}"` : `"${hash('sha1', body, 'base64url').slice(0, 20)}${suffix}"`;
  const modifiedMs = Math.floor(head.lastModifiedMs / 1000) * 1000;
  const lastModified = new Date(modifiedMs).toUTCString();
  const common = ['content-type', head.type, 'last-modified', lastModified, 'etag', etag];
  if (head.cacheControl !== '') common.push('cache-control', head.cacheControl);
  if (head.varies) common.push('vary', 'accept-encoding');
  if (coding !== null) common.push('content-encoding', coding);
  common.push('accept-ranges', 'bytes');
  const notModified = ['last-modified', lastModified, 'etag', etag];
  if (head.cacheControl !== '') notModified.push('cache-control', head.cacheControl);
  if (head.varies) notModified.push('vary', 'accept-encoding');
  const ok = [...common, 'content-length', String(size)];
  const oneWrite = body !== null && body.length <= ONE_WRITE_BYTES ? body : null;
  return {
    coding,
    path: found.path,
    size,
    ino: stats.ino,
    mtimeMs: stats.mtimeMs,
    body,
    bodyText: oneWrite === null ? null : oneWrite.toString('latin1'),
    etag,
    lastModified,
    modifiedMs,
    ok,
    prebuilt: body === null ? null : new PrebuiltResponse(200, ok, body),
    partial: common,
    notModified,
  };
}
