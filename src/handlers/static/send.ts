/**
 * Writing a file response: pick the representation (Accept-Encoding), answer
 * the conditions (304, 412), the range (206, 416), then the bytes — from
 * memory with one writeHead and one end, or streamed from disk.
 *
 * Streams keep memory bounded: the file is read in chunks (256 KiB) into one
 * buffer per response, only as fast as the client takes them, so a client that
 * never reads holds one chunk and a socket buffer, not the file. One that makes no
 * progress for `sendTimeoutMs` is disconnected (nginx's send_timeout), so it
 * cannot hold a file descriptor forever either.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../../observe/log.ts';
import type { NodeResponse, RequestContext } from '../../worker/context.ts';
import { sendError } from '../../worker/error-response.ts';
import { encodingPreference } from './accept-encoding.ts';
import { evaluatePreconditions, ifRangeMatches } from './conditional.ts';
import type { FileEntry, Variant } from './file-entry.ts';
import { parseRange } from './range.ts';

export interface StreamSettings {
  /** Chunk size when streaming from disk. */
  chunkBytes: number;
  /** Disconnect a client that takes no bytes for this long. */
  sendTimeoutMs: number;
  logger: Logger;
}

/** 'changed': the file on disk is no longer the one the entry describes; nothing was sent. */
export type SendOutcome = void | Promise<'sent' | 'changed'>;

/** The representation the client prefers among the ones we have. */
export function chooseVariant(entry: FileEntry, acceptEncoding: string | undefined): Variant {
  if (entry.br === null && entry.gzip === null) return entry.identity;
  switch (encodingPreference(acceptEncoding)) {
    case 'br,gzip':
      return entry.br ?? entry.gzip ?? entry.identity;
    case 'gzip,br':
      return entry.gzip ?? entry.br ?? entry.identity;
    case 'br':
      return entry.br ?? entry.identity;
    case 'gzip':
      return entry.gzip ?? entry.identity;
    default:
      return entry.identity;
  }
}

export function sendEntry(ctx: RequestContext, entry: FileEntry, settings: StreamSettings): SendOutcome {
  const headers = ctx.req.headers;
  const res = ctx.res;
  const variant = chooseVariant(entry, headers['accept-encoding']);
  if (headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined || headers['if-match'] !== undefined || headers['if-unmodified-since'] !== undefined) {
    const verdict = evaluatePreconditions(headers, variant);
    if (verdict === 'not-modified') {
      res.writeHead(304, variant.notModified);
      res.end();
      return;
    }
    if (verdict === 'precondition-failed') {
      sendError(res, 412);
      return;
    }
  }
  const rangeHeader = headers.range;
  // Range is defined for GET only (RFC 9110 §14.2); a stale If-Range means "send it all".
  if (rangeHeader !== undefined && ctx.method === 'GET' && ifRangeAllows(headers['if-range'], variant)) {
    const range = parseRange(rangeHeader, variant.size);
    if (range === 'unsatisfiable') {
      sendError(res, 416, undefined, { headers: { 'content-range': `bytes */${variant.size}` } });
      return;
    }
    if (range !== 'ignore') {
      const head = [...variant.partial, 'content-range', `bytes ${range.start}-${range.end}/${variant.size}`, 'content-length', String(range.end - range.start + 1)];
      return sendBytes(ctx, variant, 206, head, range.start, range.end, settings);
    }
  }
  return sendBytes(ctx, variant, 200, variant.ok, 0, variant.size - 1, settings);
}

function ifRangeAllows(ifRange: string | string[] | undefined, variant: Variant): boolean {
  return ifRange === undefined || (typeof ifRange === 'string' && ifRangeMatches(ifRange, variant));
}

function sendBytes(ctx: RequestContext, variant: Variant, status: number, head: string[], start: number, end: number, settings: StreamSettings): SendOutcome {
  const res = ctx.res;
  if (ctx.method === 'HEAD') {
    res.writeHead(status, head);
    res.end();
    return;
  }
  const body = variant.body;
  if (body !== null) {
    res.writeHead(status, head);
    if (status === 200 && variant.bodyText !== null) res.end(variant.bodyText, 'latin1');
    else res.end(status === 206 ? body.subarray(start, end + 1) : body);
    return;
  }
  return streamFile(ctx, variant, status, head, start, end, settings);
}

async function streamFile(ctx: RequestContext, variant: Variant, status: number, head: string[], start: number, end: number, settings: StreamSettings): Promise<'sent' | 'changed'> {
  let handle: FileHandle;
  try {
    handle = await open(variant.path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'changed';
    throw error;
  }
  const res = ctx.res;
  try {
    // The head promises a length and validators: check they still describe this file (a deploy may have replaced it).
    const stats = await handle.stat();
    if (stats.ino !== variant.ino || stats.size !== variant.size || stats.mtimeMs !== variant.mtimeMs) return 'changed';
    if (clientGone(res)) return 'sent';
    res.writeHead(status, head);
    await sendRange(ctx, handle, variant, start, end, settings);
    return 'sent';
  } finally {
    await handle.close();
  }
}

/**
 * Sends bytes start..end of the open file: each chunk is read into one buffer
 * kept for the whole response, written, and the next read waits until the
 * socket took it (the write's callback). So a response holds one chunk however
 * slow its client, and makes no garbage per chunk — a stream allocating a new
 * chunk per read cost about twice the CPU per MiB (docs/benchmarks.md).
 */
async function sendRange(ctx: RequestContext, handle: FileHandle, variant: Variant, start: number, end: number, settings: StreamSettings): Promise<void> {
  const res = ctx.res;
  const length = end - start + 1;
  const chunk = Buffer.allocUnsafe(Math.min(settings.chunkBytes, length));
  let sent = 0;
  watchForStall(res, () => sent, settings.sendTimeoutMs);
  // An HTTP/2 stream reset by the client is closed but not destroyed while writes are pending: end it here.
  const abort = () => res.destroy();
  ctx.req.once('aborted', abort);
  try {
    while (sent < length && !clientGone(res)) {
      const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, length - sent), start + sent);
      if (bytesRead === 0) break;
      sent += bytesRead;
      if (!(await written(res, bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead)))) break;
    }
  } catch (error) {
    if (!clientGone(res)) settings.logger.error({ err: error, file: variant.path }, 'static: reading the file failed mid-response');
    res.destroy();
    return;
  } finally {
    ctx.req.off('aborted', abort);
  }
  if (clientGone(res)) return;
  if (sent === length) res.end();
  else {
    // The file shrank while being read: a short body must not look complete.
    settings.logger.warn({ file: variant.path, expected: length, sent }, 'static: file changed while being sent; connection closed');
    res.destroy();
  }
}

/** Writes `bytes` and resolves once the socket took them (true) or the response closed first (false): only then may the buffer be reused. */
function written(res: NodeResponse, bytes: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const closed = () => resolve(false);
    res.once('close', closed);
    res.write(bytes, (error) => {
      res.off('close', closed);
      resolve(error == null && !clientGone(res));
    });
  });
}

/** Has the client gone (or the response been destroyed)? HTTP/2's compat response has no `destroyed`: its stream does. */
function clientGone(res: NodeResponse): boolean {
  return res.destroyed === true || (res as { stream?: { destroyed?: boolean } }).stream?.destroyed === true;
}

/**
 * Destroys the response when the client has taken no bytes for `timeoutMs`,
 * until the response is closed (also after the last chunk: it may still sit
 * in buffers for a client that stopped reading). Progress is what reached the
 * socket: bytes handed to the response minus what still waits in its buffers
 * (byte by byte, not chunk by chunk: a slow client draining a 256 KiB chunk is
 * making progress).
 */
function watchForStall(res: NodeResponse, bytesSent: () => number, timeoutMs: number): void {
  let last = bytesSent() - res.writableLength;
  const timer = setTimeout(() => {
    const delivered = bytesSent() - res.writableLength;
    if (delivered === last) res.destroy();
    else {
      last = delivered;
      timer.refresh();
    }
  }, timeoutMs);
  timer.unref();
  res.once('close', () => clearTimeout(timer));
}
