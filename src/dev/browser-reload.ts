/**
 * Reloading the browser after a restart (kirin dev only). Every HTML response
 * gets a small script that opens an EventSource to RELOAD_PATH and remembers
 * the generation that served the page. When a restart swaps generations the
 * old worker ends its event streams; the browser reconnects (after `retry`),
 * reaches the new generation, hears a different number and reloads. Nothing
 * is kept between workers: the generation number is the whole protocol.
 */
import { createHash } from 'node:crypto';
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import { moveOntoResponse } from '../middleware/on-headers.ts';
import type { NodeRequest, NodeResponse } from '../worker/context.ts';
import { allowReloadScript } from './csp.ts';
import { HEAD_LIMIT, headEnded, rewriteMetaPolicies } from './meta-csp.ts';

export const RELOAD_PATH = '/_kirin/dev/reload';
/** How soon a browser tries again after its stream ended: a restart takes a few hundred ms. */
const RETRY_MS = 150;

export class BrowserReload {
  readonly #generation: string;
  readonly #script: string;
  /** For the pages' Content-Security-Policy ('sha256-…'). */
  readonly #scriptHash: string;
  readonly #warn: (message: string) => void;
  readonly #warnedCodings = new Set<string>();
  readonly #streams = new Set<NodeResponse>();
  #draining = false;

  constructor(generation: number, warn: (message: string) => void = () => {}) {
    this.#generation = String(generation);
    const code = `(()=>{const g=${JSON.stringify(this.#generation)};const s=new EventSource(${JSON.stringify(RELOAD_PATH)});s.onmessage=(e)=>{if(e.data!==g){s.close();location.reload();}};})();`;
    this.#script = `<script>${code}</script>`;
    this.#scriptHash = `'sha256-${createHash('sha256').update(code).digest('base64')}'`;
    this.#warn = warn;
  }

  /** Answers the event stream; true when `req` was for it. */
  answer(req: NodeRequest, res: NodeResponse): boolean {
    if (req.url !== RELOAD_PATH) return false;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.write(`retry: ${RETRY_MS}\ndata: ${this.#generation}\n\n`);
    // A draining worker still answers connections it had: send the browser on to the next generation.
    if (this.#draining) res.end();
    else {
      this.#streams.add(res);
      res.once('close', () => this.#streams.delete(res));
    }
    return true;
  }

  /** The worker is leaving: end the streams, so browsers reconnect to the new generation and the drain is not held up. */
  drain(): void {
    this.#draining = true;
    for (const res of this.#streams) res.end();
    this.#streams.clear();
  }

  /**
   * Makes an HTML response carry the script (appended after the body, which browsers run). Installed
   * before the route's middleware: compression wraps this, so the head seen here is final — a body
   * the app or Kirin compressed is decoded, given the script and encoded again in the same coding.
   */
  injectInto(req: NodeRequest, res: NodeResponse): void {
    if (req.method === 'HEAD') return;
    const script = this.#script;
    const scriptHash = this.#scriptHash;
    const warnOnce = (coding: string) => {
      if (this.#warnedCodings.has(coding)) return;
      this.#warnedCodings.add(coding);
      this.#warn(`no browser reload for HTML sent with Content-Encoding: ${coding} (kirin dev re-encodes gzip, deflate, br${HAS_ZSTD ? ' and zstd' : ''} only)`);
    };
    const writeHead = res.writeHead as (...args: unknown[]) => NodeResponse;
    const write = res.write as WriteFn;
    const end = res.end as EndFn;
    let body: BodyWriter | null = null;
    const patched = res as unknown as { writeHead: (...args: unknown[]) => NodeResponse; write: WriteFn; end: EndFn };
    patched.writeHead = function (this: NodeResponse, ...args: unknown[]) {
      const status = args[0] as number;
      const rest = args.slice(1);
      const statusText = typeof rest[0] === 'string' ? rest[0] : undefined;
      const headers = statusText === undefined ? rest[0] : rest[1];
      if (headers !== undefined && headers !== null) moveOntoResponse(res, headers);
      res.statusCode = status;
      if (status >= 200 && status !== 204 && status !== 304 && isHtml(res.getHeader('content-type'))) {
        const coding = contentCoding(res);
        const letThrough = (html: BodyWriter) => rewritingHead(html, (policy) => allowReloadScript(policy, scriptHash));
        body = coding === null ? letThrough(appending(res, script, write, end)) : recoding(res, coding, script, write, end, letThrough);
        if (body === null) warnOnce(coding!);
        else {
          // The body grows: let Node frame it (chunked) instead of the length the handler computed.
          res.removeHeader('content-length');
          for (const name of CSP_HEADERS) {
            const policy = res.getHeader(name);
            if (policy !== undefined) res.setHeader(name, Array.isArray(policy) ? policy.map((p) => allowReloadScript(p, scriptHash)) : allowReloadScript(String(policy), scriptHash));
          }
        }
      }
      return statusText === undefined ? writeHead.call(this, status) : writeHead.call(this, status, statusText);
    };
    patched.write = function (this: NodeResponse, chunk: Chunk, encoding?: BufferEncoding | Callback, callback?: Callback) {
      if (!res.headersSent) res.writeHead(res.statusCode);
      return body === null ? write.call(this, chunk, encoding, callback) : body.write(chunk, encoding, callback);
    };
    patched.end = function (this: NodeResponse, chunk?: Chunk | Callback, encoding?: BufferEncoding | Callback, callback?: Callback) {
      // end(body) before any writeHead: write the head now, or Node would set Content-Length from the body.
      if (!res.headersSent && isHtml(res.getHeader('content-type'))) res.writeHead(res.statusCode);
      return body === null ? end.call(this, chunk, encoding, callback) : body.end(chunk, encoding, callback);
    };
  }
}

type Chunk = string | Uint8Array;
type Callback = (error?: Error | null) => void;
type WriteFn = (chunk: Chunk, encoding?: BufferEncoding | Callback, callback?: Callback) => boolean;
type EndFn = (chunk?: Chunk | Callback, encoding?: BufferEncoding | Callback, callback?: Callback) => NodeResponse;

/** Where the body of an HTML response goes once the script is to be added. */
interface BodyWriter {
  write: WriteFn;
  end: EndFn;
}

const CSP_HEADERS = ['content-security-policy', 'content-security-policy-report-only'];

/** The response's content coding, lower case; null for none or identity. */
function contentCoding(res: NodeResponse): string | null {
  const value = res.getHeader('content-encoding');
  if (value === undefined) return null;
  const coding = String(value).trim().toLowerCase();
  return coding === '' || coding === 'identity' ? null : coding;
}

/** An uncompressed body: passed through as it comes, the script after it. */
function appending(res: NodeResponse, script: string, write: WriteFn, end: EndFn): BodyWriter {
  return {
    write: (chunk, encoding, callback) => write.call(res, chunk, encoding, callback),
    end: (chunk, encoding, callback) => {
      const done = [chunk, encoding, callback].find((a) => typeof a === 'function') as Callback | undefined;
      if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') write.call(res, chunk, typeof encoding === 'string' ? encoding : undefined);
      return end.call(res, script, done);
    },
  };
}

/**
 * The body with its `<meta>` policies let through as well (meta-csp.ts): its start is held until the head
 * has ended (or HEAD_LIMIT bytes), rewritten, and sent on; everything after passes as it comes.
 */
function rewritingHead(body: BodyWriter, rewrite: (policy: string) => string): BodyWriter {
  /** The body's start as latin1 text (a character per byte); null once sent on. */
  let held: string | null = '';
  let callbacks: Callback[] = [];
  /** Sends what was held, rewritten; the callbacks of the writes it held are called when it is written. */
  const release = (send: (bytes: Buffer, callback: Callback | undefined) => unknown, last?: Callback) => {
    const bytes = Buffer.from(rewriteMetaPolicies(held!, rewrite), 'latin1');
    const waiting = last ? [...callbacks, last] : callbacks;
    held = null;
    callbacks = [];
    return send(bytes, waiting.length === 0 ? undefined : (error) => waiting.forEach((callback) => callback(error)));
  };
  return {
    write: (chunk, encoding, callback) => {
      if (held === null) return body.write(chunk, encoding, callback);
      held += latin1(chunk, encoding);
      const done = typeof encoding === 'function' ? encoding : callback;
      if (done) callbacks.push(done);
      if (held.length < HEAD_LIMIT && !headEnded(held)) return true;
      return release((bytes, waiting) => body.write(bytes, undefined, waiting)) as boolean;
    },
    end: (chunk, encoding, callback) => {
      if (held === null) return body.end(chunk, encoding, callback);
      if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') held += latin1(chunk, encoding);
      const done = [chunk, encoding, callback].find((a) => typeof a === 'function') as Callback | undefined;
      return release((bytes, waiting) => body.end(bytes, undefined, waiting), done) as NodeResponse;
    },
  };
}

/** A written chunk's bytes as latin1 text, which turns back into the same bytes. */
function latin1(chunk: Chunk, encoding: BufferEncoding | Callback | undefined): string {
  if (typeof chunk !== 'string') return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
  return Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8').toString('latin1');
}

type Codec = () => zlib.Gunzip | zlib.Gzip | zlib.Inflate | zlib.Deflate | zlib.BrotliDecompress | zlib.BrotliCompress | Transform;

/** Node 22.15 and 23.8 added zstd; Kirin runs on older 22s too. */
const HAS_ZSTD = typeof zlib.createZstdCompress === 'function';

/** Decoder and encoder by coding; zstd where this Node has it. */
const CODECS: Record<string, [Codec, Codec] | undefined> = {
  gzip: [zlib.createGunzip, zlib.createGzip],
  'x-gzip': [zlib.createGunzip, zlib.createGzip],
  deflate: [zlib.createInflate, zlib.createDeflate],
  // Quality 4, as Kirin's own compression: 11 would make every dev response slow.
  br: [zlib.createBrotliDecompress, () => zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } })],
  ...(HAS_ZSTD ? { zstd: [zlib.createZstdDecompress, zlib.createZstdCompress] as [Codec, Codec] } : {}),
};

/**
 * A compressed body: decoded, its meta policies let through, the script added at its end, encoded again in the same coding.
 * Each decoded piece is flushed through, so a streamed page still arrives as it is written.
 * Null for a coding it cannot decode.
 */
function recoding(res: NodeResponse, coding: string, script: string, write: WriteFn, end: EndFn, letThrough: (html: BodyWriter) => BodyWriter): BodyWriter | null {
  const codec = CODECS[coding];
  if (codec === undefined) return null;
  const decoder = codec[0]();
  const encoder = codec[1]();
  let done: Callback | undefined;
  // The decoded page, on its way into the encoder: where its meta policies are let through.
  const html = letThrough({
    write: (piece) => {
      encoder.write(piece);
      (encoder as zlib.Gzip).flush();
      return true;
    },
    end: (piece) => {
      if (piece !== undefined && typeof piece !== 'function') encoder.write(piece);
      encoder.end(script);
      return res;
    },
  });
  decoder.on('data', (piece: Buffer) => html.write(piece));
  decoder.on('end', () => html.end());
  encoder.on('data', (piece: Buffer) => write.call(res, piece));
  encoder.on('end', () => end.call(res, done));
  const fail = (error: Error) => res.destroy(error);
  decoder.on('error', fail);
  encoder.on('error', fail);
  res.once('close', () => {
    decoder.destroy();
    encoder.destroy();
  });
  return {
    write: (chunk, encoding, callback) => decoder.write(chunk, typeof encoding === 'string' ? encoding : 'utf8', typeof encoding === 'function' ? encoding : callback),
    end: (chunk, encoding, callback) => {
      done = [chunk, encoding, callback].find((a) => typeof a === 'function') as Callback | undefined;
      if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') decoder.end(chunk, typeof encoding === 'string' ? encoding : 'utf8');
      else decoder.end();
      return res;
    },
  };
}

function isHtml(type: unknown): boolean {
  return typeof type === 'string' && /^\s*text\/html\b/i.test(type);
}
