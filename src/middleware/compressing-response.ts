/**
 * Puts a compressor between a handler and its response, the way
 * expressjs/compression does: `res.write` and `res.end` are wrapped before the
 * handler runs, the decision is taken when the head is written, and from then
 * on the body goes through zlib — or straight through when the response is not
 * one to compress.
 *
 * - Whole bodies (one `end(body)` and no writes before, what fetch apps and
 *   `res.send` do) of up to SYNC_LIMIT bytes are compressed in one synchronous
 *   call: ~20–250 µs, cheaper than a round trip to the thread pool.
 * - Anything else streams through a zlib stream on the thread pool, with
 *   backpressure both ways (the handler's `write` returns false and 'drain'
 *   follows, as on a plain response).
 * - Streams are flushed once the handler stops writing for an event-loop turn,
 *   so server-sent events and other streaming bodies arrive as they are
 *   written, while a burst of small writes still compresses as one.
 *
 * Levels: brotli quality 4 and gzip level 6 — fast enough for dynamic content
 * (quality 11 is for precompressing static files once), with ratios close to
 * the maximum on text. Brotli's window is 2^19 bytes, like ngx_brotli's
 * default, to bound memory per open stream.
 */
import zlib from 'node:zlib';
import type { NodeResponse } from '../worker/context.ts';
import { onHeaders } from './on-headers.ts';

export type ContentCoding = 'br' | 'gzip';

/** Bodies up to this size are compressed synchronously when they come whole. */
export const SYNC_LIMIT = 32 * 1024;
export const BROTLI_QUALITY = 4;
export const BROTLI_WINDOW_BITS = 19;
export const GZIP_LEVEL = 6;

const { constants } = zlib;

export interface CompressOptions {
  isCompressible: (contentType: string) => boolean;
  minSize: number;
}

type Chunk = string | Uint8Array;
type Callback = (error?: Error | null) => void;
type WriteFn = (chunk: Chunk, encoding?: BufferEncoding | Callback, callback?: Callback) => boolean;
type EndFn = (chunk?: Chunk | Callback, encoding?: BufferEncoding | Callback, callback?: Callback) => NodeResponse;

/**
 * Installs the hooks on `res`. With `coding` null (the client accepts neither)
 * nothing is compressed, but compressible responses still say
 * `Vary: Accept-Encoding`, so a cache never serves them to a client that would
 * have had them compressed.
 */
export function compressResponse(res: NodeResponse, coding: ContentCoding | null, options: CompressOptions): void {
  let active = false;
  onHeaders(res, () => {
    if (!shouldCompress(res, options)) return;
    addVary(res);
    if (coding === null) return;
    active = true;
    res.setHeader('content-encoding', coding);
    res.removeHeader('content-length');
    res.removeHeader('accept-ranges');
    const etag = res.getHeader('etag');
    if (typeof etag === 'string' && etag.startsWith('"')) res.setHeader('etag', `W/${etag}`);
  });
  if (coding === null) {
    wrapEnd(res);
    return;
  }

  const write = res.write as WriteFn;
  const end = res.end as EndFn;
  let stream: zlib.BrotliCompress | zlib.Gzip | null = null;
  let ended = false;
  let flushQueued = false;
  let forwardingDrain = false;

  const openStream = (sizeHint: number): zlib.BrotliCompress | zlib.Gzip => {
    const z = coding === 'br' ? zlib.createBrotliCompress({ params: brotliParams(sizeHint) }) : zlib.createGzip({ level: GZIP_LEVEL });
    z.on('data', (chunk: Buffer) => {
      if (!write.call(res, chunk)) z.pause();
    });
    z.on('end', () => end.call(res));
    z.on('error', (error) => res.destroy(error));
    // The handler waits for 'drain' on the response when the compressor is full.
    z.on('drain', () => {
      forwardingDrain = true;
      res.emit('drain');
      forwardingDrain = false;
    });
    res.on('drain', () => {
      if (!forwardingDrain) z.resume();
    });
    res.once('close', () => z.destroy());
    stream = z;
    return z;
  };

  const flushSoon = () => {
    if (flushQueued) return;
    flushQueued = true;
    setImmediate(() => {
      flushQueued = false;
      if (stream !== null && !ended && !stream.destroyed) stream.flush(coding === 'br' ? constants.BROTLI_OPERATION_FLUSH : constants.Z_SYNC_FLUSH);
    });
  };

  res.write = function compressingWrite(this: NodeResponse, chunk: Chunk, encoding?: BufferEncoding | Callback, callback?: Callback): boolean {
    if (!res.headersSent) res.writeHead(res.statusCode);
    if (!active) return write.call(res, chunk, encoding, callback);
    if (ended) return false;
    const done = typeof encoding === 'function' ? encoding : callback;
    const buffer = toBuffer(chunk, typeof encoding === 'function' ? undefined : encoding);
    if (buffer.length === 0) {
      if (done) process.nextTick(done);
      return true;
    }
    const z = stream ?? openStream(0);
    const ok = done ? z.write(buffer, done) : z.write(buffer);
    flushSoon();
    return ok;
  } as NodeResponse['write'];

  res.end = function compressingEnd(this: NodeResponse, chunk?: Chunk | Callback, encoding?: BufferEncoding | Callback, callback?: Callback): NodeResponse {
    let body: Chunk | undefined;
    let charset: BufferEncoding | undefined;
    let done: Callback | undefined = callback;
    if (typeof chunk === 'function') done = chunk;
    else {
      body = chunk ?? undefined;
      if (typeof encoding === 'function') done = encoding;
      else charset = encoding;
    }
    if (!res.headersSent) {
      declareLength(res, body, charset);
      res.writeHead(res.statusCode);
    }
    if (!active) return end.call(res, body, charset, done);
    if (ended) return res;
    ended = true;
    if (done) res.once('finish', () => done());
    const buffer = body === undefined ? null : toBuffer(body, charset);
    if (stream === null && (buffer === null || buffer.length <= SYNC_LIMIT)) {
      end.call(res, compressWhole(coding, buffer ?? Buffer.alloc(0)));
      return res;
    }
    const z = stream ?? openStream(buffer!.length);
    if (buffer !== null && buffer.length > 0) z.end(buffer);
    else z.end();
    return res;
  } as NodeResponse['end'];
}

/**
 * Without a coding only the decision matters; `end` is wrapped so that a body
 * given whole still has its length known when the head is written.
 */
function wrapEnd(res: NodeResponse): void {
  const end = res.end as EndFn;
  res.end = function endWithLength(this: NodeResponse, chunk?: Chunk | Callback, encoding?: BufferEncoding | Callback, callback?: Callback): NodeResponse {
    if (!res.headersSent && typeof chunk !== 'function') declareLength(res, chunk, typeof encoding === 'function' ? undefined : encoding);
    return end.call(res, chunk, encoding, callback);
  } as NodeResponse['end'];
}

/**
 * `end(body)` before the head: say the length, as Node itself would, so the
 * minSize check sees it (and an uncompressed answer keeps its Content-Length).
 */
function declareLength(res: NodeResponse, chunk: Chunk | null | undefined, encoding: BufferEncoding | undefined): void {
  const status = res.statusCode;
  if (status < 200 || status === 204 || status === 304) return;
  if (res.getHeader('content-length') !== undefined || res.getHeader('transfer-encoding') !== undefined) return;
  const length = chunk === undefined || chunk === null ? 0 : typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding) : chunk.byteLength;
  res.setHeader('content-length', length);
}

export function shouldCompress(res: NodeResponse, options: CompressOptions): boolean {
  const status = res.statusCode;
  if (status < 200 || status === 204 || status === 206 || status === 304) return false;
  const encoding = res.getHeader('content-encoding');
  if (encoding !== undefined && String(encoding).trim().toLowerCase() !== 'identity') return false;
  const type = res.getHeader('content-type');
  if (typeof type !== 'string' || !options.isCompressible(type)) return false;
  const cacheControl = res.getHeader('cache-control');
  if (cacheControl !== undefined && /(?:^|,)\s*no-transform\s*(?:,|$)/i.test(String(cacheControl))) return false;
  const length = res.getHeader('content-length');
  if (length !== undefined && Number(length) < options.minSize) return false;
  return true;
}

function addVary(res: NodeResponse): void {
  const vary = res.getHeader('vary');
  if (vary === undefined) {
    res.setHeader('vary', 'Accept-Encoding');
    return;
  }
  const list = String(vary);
  if (/(?:^|,)\s*(?:\*|accept-encoding)\s*(?:,|$)/i.test(list)) return;
  res.setHeader('vary', `${list}, Accept-Encoding`);
}

function brotliParams(sizeHint: number): Record<number, number> {
  const params: Record<number, number> = {
    [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
    [constants.BROTLI_PARAM_LGWIN]: BROTLI_WINDOW_BITS,
  };
  if (sizeHint > 0) params[constants.BROTLI_PARAM_SIZE_HINT] = sizeHint;
  return params;
}

function compressWhole(coding: ContentCoding, body: Buffer): Buffer {
  return coding === 'br' ? zlib.brotliCompressSync(body, { params: brotliParams(body.length) }) : zlib.gzipSync(body, { level: GZIP_LEVEL });
}

function toBuffer(chunk: Chunk, encoding: BufferEncoding | undefined): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding);
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
