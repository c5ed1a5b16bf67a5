/**
 * A `Response` that remembers how it was made.
 *
 * `new Response('Hello')` in undici builds a body stream, a Headers list and
 * internal state; writing it to a Node socket then means reading that stream
 * back. Installed as the global `Response` in workers, this class keeps the
 * constructor arguments and, when the body is a string, bytes or nothing,
 * the worker writes them straight to the socket. Anything else a handler asks
 * of it (a stream body, clone(), text() …) builds the real Response once and
 * delegates — so it behaves as a Response everywhere: `instanceof Response`
 * holds for it and, as without Kirin, for what `fetch()` returns.
 * The same idea as @hono/node-server's and srvx's fast responses.
 */

export const NativeResponse = globalThis.Response;

export type FastBody = string | Uint8Array | null;

export const kFast = Symbol('kirin.fastResponse');

export interface FastParts {
  status: number;
  statusText: string | undefined;
  body: FastBody;
  /** Headers as given: undefined, a plain record, a Headers, or pairs. */
  headers: HeadersInit | undefined;
}

export class LightResponse {
  #body: BodyInit | null | undefined;
  #init: ResponseInit | undefined;
  #native: Response | undefined;
  #headers: Headers | undefined;
  /** Set while the response can be written without the native object. */
  [kFast]: FastParts | undefined;

  constructor(body?: BodyInit | null, init?: ResponseInit) {
    this.#body = body;
    this.#init = init;
    if (body == null || typeof body === 'string' || body instanceof Uint8Array) {
      const status = init?.status ?? 200;
      if (status < 200 || status > 599 || !Number.isInteger(status) || (body != null && isNullBodyStatus(status))) {
        // Let the native constructor throw its RangeError (or its TypeError: a body on a 204, 205 or 304).
        this.#materialize();
        this[kFast] = undefined;
        return;
      }
      this[kFast] = { status, statusText: init?.statusText, body: body ?? null, headers: init?.headers };
    } else {
      this[kFast] = undefined;
    }
  }

  #materialize(): Response {
    if (this.#native) return this.#native;
    const init = this.#init;
    const fast = this[kFast];
    // Headers read (and maybe changed) through `.headers` are the truth from now on.
    const headers = this.#headers ?? (fast ? withDefaultContentType(fast.headers, fast.body) : init?.headers);
    this.#native = new NativeResponse(this.#body, init ? { status: init.status, statusText: init.statusText, headers } : headers ? { headers } : undefined);
    this[kFast] = undefined;
    return this.#native;
  }

  get headers(): Headers {
    if (this.#native) return this.#native.headers;
    const fast = this[kFast];
    if (!fast) return this.#materialize().headers;
    if (!this.#headers) {
      this.#headers = new Headers(withDefaultContentType(fast.headers, fast.body));
      fast.headers = this.#headers;
    }
    return this.#headers;
  }

  get status(): number {
    return this[kFast]?.status ?? this.#materialize().status;
  }

  get ok(): boolean {
    const status = this.status;
    return status >= 200 && status < 300;
  }

  get statusText(): string {
    const fast = this[kFast];
    return fast ? (fast.statusText ?? '') : this.#materialize().statusText;
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.#materialize().body;
  }
  get bodyUsed(): boolean {
    return this.#native ? this.#native.bodyUsed : false;
  }
  get redirected(): boolean {
    return false;
  }
  get type(): ResponseType {
    return this.#native ? this.#native.type : 'default';
  }
  get url(): string {
    return this.#native ? this.#native.url : '';
  }
  clone(): Response {
    return this.#materialize().clone();
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#materialize().arrayBuffer();
  }
  blob(): Promise<Blob> {
    return this.#materialize().blob();
  }
  bytes(): Promise<Uint8Array> {
    return (this.#materialize() as Response & { bytes(): Promise<Uint8Array> }).bytes();
  }
  formData(): Promise<FormData> {
    return this.#materialize().formData();
  }
  json(): Promise<unknown> {
    return this.#materialize().json();
  }
  text(): Promise<string> {
    return this.#materialize().text();
  }

  /** The native Response, for code that needs the real thing (streams, clone). */
  toNative(): Response {
    return this.#materialize();
  }

  static json(data: unknown, init?: ResponseInit): Response {
    const body = JSON.stringify(data);
    if (body === undefined) throw new TypeError('Response.json: the value is not JSON serializable');
    const headers = new Headers(init?.headers);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    return new LightResponse(body, { status: init?.status ?? 200, statusText: init?.statusText, headers }) as unknown as Response;
  }

  static redirect(url: string | URL, status = 302): Response {
    if (![301, 302, 303, 307, 308].includes(status)) throw new RangeError(`Invalid redirect status: ${status}`);
    return new LightResponse(null, { status, headers: { location: new URL(url).href } }) as unknown as Response;
  }

  static error(): Response {
    return NativeResponse.error();
  }

  /**
   * Installed as the global Response, this class would otherwise deny Node's own
   * Responses — `(await fetch(url)) instanceof Response` false in an app that
   * proxies. A subclass (`class Mine extends Response`) keeps the ordinary check.
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    if (this !== LightResponse) return Function.prototype[Symbol.hasInstance].call(this, value);
    return value instanceof NativeResponse;
  }
}

/** A LightResponse, not a native one (`instanceof LightResponse` says yes to both). */
export function isLightResponse(value: object): value is LightResponse {
  return kFast in value;
}

Object.setPrototypeOf(LightResponse.prototype, NativeResponse.prototype);
Object.setPrototypeOf(LightResponse, NativeResponse);
Object.defineProperty(LightResponse, 'name', { value: 'Response' });

function withDefaultContentType(headers: HeadersInit | undefined, body: FastBody): HeadersInit | undefined {
  if (typeof body !== 'string') return headers;
  const out = new Headers(headers);
  if (!out.has('content-type')) out.set('content-type', 'text/plain;charset=UTF-8');
  return out;
}

/** Makes `new Response(…)` in the app build a LightResponse. Idempotent. */
export function installLightResponse(): void {
  if (globalThis.Response !== (LightResponse as unknown as typeof Response)) {
    Object.defineProperty(globalThis, 'Response', { value: LightResponse, writable: true, configurable: true });
  }
}

/** The statuses whose responses carry no body (fetch's "null body status", besides 101 and 103). */
function isNullBodyStatus(status: number): boolean {
  return status === 204 || status === 205 || status === 304;
}
