/**
 * A `Request` built on demand from Node's IncomingMessage.
 *
 * Most handlers read `method`, `url` and a header or two. Those come straight
 * from the Node request; the native Request (with its Headers object and body
 * stream) is built only when something else is asked for — "global.Request is
 * expensive to generate" (@hono/node-server). Body reads that ask for the whole
 * body at once (text, json, arrayBuffer, bytes) read the Node stream directly.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { NodeRequest, RequestContext } from '../../worker/context.ts';
import { BodyTooLargeError } from '../body-too-large.ts';

const NativeRequest = globalThis.Request;

export class LazyRequest {
  readonly #ctx: RequestContext;
  readonly #incoming: NodeRequest;
  readonly #maxBody: number;
  #url: string | undefined;
  #headers: Headers | undefined;
  #native: Request | undefined;
  #abort: AbortController | undefined;
  #bodyUsed = false;

  constructor(ctx: RequestContext, maxBody: number) {
    this.#ctx = ctx;
    this.#incoming = ctx.req;
    this.#maxBody = maxBody;
    this.#url = undefined;
  }

  get method(): string {
    return this.#ctx.method;
  }
  get url(): string {
    const ctx = this.#ctx;
    return (this.#url ??= `${ctx.scheme}://${ctx.authority}${ctx.target}`);
  }
  /** The client address as Kirin resolved it (trusted proxies applied). srvx calls it `ip` too. */
  get ip(): string {
    return this.#ctx.clientIp;
  }
  get headers(): Headers {
    if (this.#native) return this.#native.headers;
    return (this.#headers ??= headersFrom(this.#incoming.headers));
  }
  get signal(): AbortSignal {
    if (this.#native) return this.#native.signal;
    return this.#controller().signal;
  }
  get body(): ReadableStream<Uint8Array> | null {
    return this.#materialize().body;
  }
  get bodyUsed(): boolean {
    return this.#native ? this.#native.bodyUsed : this.#bodyUsed;
  }

  /** Aborts `signal` (the client went away before the response was done). */
  abort(reason?: unknown): void {
    if (this.#native) return; // the native request carries our controller's signal
    this.#abort?.abort(reason);
  }

  #controller(): AbortController {
    return (this.#abort ??= new AbortController());
  }

  #materialize(): Request {
    if (this.#native) return this.#native;
    const method = this.#ctx.method;
    const hasBody = method !== 'GET' && method !== 'HEAD';
    if (hasBody && this.#bodyUsed) throw new TypeError('Body is unusable: it has already been read');
    const init: RequestInit & { duplex?: 'half' } = {
      method,
      headers: this.headers,
      signal: this.#controller().signal,
    };
    if (hasBody) {
      init.body = Readable.toWeb(limitStream(this.#incoming, this.#maxBody)) as ReadableStream<Uint8Array>;
      init.duplex = 'half';
      this.#bodyUsed = true;
    }
    this.#native = new NativeRequest(this.url, init);
    return this.#native;
  }

  #readAll(): Promise<Buffer> {
    if (this.#native || this.#bodyUsed) {
      return this.#native ? this.#native.arrayBuffer().then((b) => Buffer.from(b)) : Promise.reject(new TypeError('Body is unusable: it has already been read'));
    }
    this.#bodyUsed = true;
    const method = this.#ctx.method;
    if (method === 'GET' || method === 'HEAD') return Promise.resolve(Buffer.alloc(0));
    return readBody(this.#incoming, this.#maxBody);
  }

  text(): Promise<string> {
    return this.#readAll().then((b) => b.toString('utf8'));
  }
  json(): Promise<unknown> {
    return this.text().then(JSON.parse);
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#readAll().then((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
  }
  bytes(): Promise<Uint8Array> {
    return this.#readAll().then((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  }
  blob(): Promise<Blob> {
    return this.#readAll().then((b) => new Blob([new Uint8Array(b)], { type: this.headers.get('content-type') ?? '' }));
  }
  formData(): Promise<FormData> {
    return this.#materialize().formData();
  }
  clone(): Request {
    return this.#materialize().clone();
  }

  // The rest of the Request interface, from the native object.
  get cache(): RequestCache {
    return this.#materialize().cache;
  }
  get credentials(): RequestCredentials {
    return this.#materialize().credentials;
  }
  get destination(): RequestDestination {
    return this.#materialize().destination;
  }
  get integrity(): string {
    return this.#materialize().integrity;
  }
  get keepalive(): boolean {
    return this.#materialize().keepalive;
  }
  get mode(): RequestMode {
    return this.#materialize().mode;
  }
  get redirect(): RequestRedirect {
    return this.#materialize().redirect;
  }
  get referrer(): string {
    return this.#materialize().referrer;
  }
  get referrerPolicy(): ReferrerPolicy {
    return this.#materialize().referrerPolicy;
  }
  get duplex(): 'half' {
    return 'half';
  }

  /** The native Request (for code that insists on the real object). */
  toNative(): Request {
    return this.#materialize();
  }
}

Object.setPrototypeOf(LazyRequest.prototype, NativeRequest.prototype);

/** Builds Headers from Node's parsed header object (pseudo-headers of HTTP/2 left out). */
function headersFrom(incoming: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const name in incoming) {
    if (name.charCodeAt(0) === 58 /* : */) continue;
    const value = incoming[name];
    if (value === undefined) continue;
    if (typeof value === 'string') headers.append(name, value);
    else for (const v of value) headers.append(name, v);
  }
  return headers;
}

function readBody(incoming: NodeRequest, limit: number): Promise<Buffer> {
  // A request without Content-Length or Transfer-Encoding may start ended (worker/servers.ts): no 'end' will come.
  if (incoming.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const declared = Number(incoming.headers['content-length']);
    if (declared > limit) {
      incoming.resume();
      reject(new BodyTooLargeError(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    incoming.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        incoming.removeAllListeners('data');
        incoming.resume();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    });
    incoming.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    incoming.once('error', reject);
    incoming.once('aborted', () => reject(new Error('the client closed the connection before sending the whole body')));
  });
}

/** Passes the body through, failing with 413 once it grows past the limit. */
function limitStream(incoming: NodeRequest, limit: number): Readable {
  // Ended before anyone read it (a request without a body, worker/servers.ts): an empty body, not one waiting for an 'end' that will not come.
  if (incoming.readableEnded) return Readable.from([]);
  if (!Number.isFinite(limit)) return incoming as unknown as Readable;
  let size = 0;
  const limited = new Readable({
    read() {
      incoming.resume();
    },
  });
  incoming.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) {
      limited.destroy(new BodyTooLargeError(limit));
      incoming.resume();
      return;
    }
    if (!limited.push(chunk)) incoming.pause();
  });
  incoming.once('end', () => limited.push(null));
  incoming.once('error', (err) => limited.destroy(err));
  return limited;
}
