/**
 * One proxied request: pick a target, send the request, stream the answer back,
 * and on failure try another target when that is safe.
 *
 * It is undici's dispatch handler, so the upstream's answer is written to the
 * client as it arrives — no intermediate stream objects, no buffering (SSE
 * events reach the client as the upstream sends them), with backpressure both
 * ways. For a WebSocket upgrade the same exchange ends in a tunnel instead.
 *
 * Sticky routing sends a request to the worker holding its Socket.IO session
 * with the same exchange (worker/sticky/forward.ts); when that worker cannot
 * be reached at all, the request is served another way (`unreachable`).
 */
import type { Duplex, Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ProxyHandlerPlan } from '../../config/plan.ts';
import type { RequestContext } from '../../worker/context.ts';
import { sendError } from '../../worker/error-response.ts';
import { endToEndHeaders, type HeaderMap } from './hop-by-hop.ts';
import { streamBody, type BodyState } from './request-body.ts';
import type { Target } from './target.ts';
import { failureKind, failurePage, nothingSent, type FailedRequest, type FailureKind } from './upstream-failure.ts';

/** What an exchange needs from its route. */
export interface ProxyRuntime {
  readonly plan: ProxyHandlerPlan;
  readonly maxBodyBytes: number;
  /** For a service upstream: how long a request waits for it to accept connections (it may be restarting); else 0. */
  readonly serviceWaitMs: number;
  readonly serviceName: string | null;
  /** A usable target not in `exclude`, or null. */
  pick(clientIp: string, exclude: readonly Target[] | null): Target | null;
  succeeded(target: Target): void;
  failed(target: Target, kind: FailureKind, error: unknown, request: FailedRequest): void;
  /** Answers when no target is usable at all. */
  noTarget(ctx: RequestContext): void;
  /** A WebSocket tunnel is open (closed on drain). */
  tunnelOpened(client: Duplex, upstream: Duplex): void;
}

export interface TunnelRequest {
  socket: Duplex;
  head: Buffer;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const FIRST_WAIT_MS = 50;
const MAX_WAIT_MS = 500;

class ClientGoneError extends Error {
  constructor() {
    super('the client closed the connection');
    this.name = 'ClientGoneError';
  }
}

export class Exchange implements Dispatcher.DispatchHandler {
  readonly #proxy: ProxyRuntime;
  readonly #ctx: RequestContext;
  readonly #headers: HeaderMap;
  /** null when the request has no body. */
  readonly #body: BodyState | null;
  readonly #tunnel: TunnelRequest | null;
  readonly #unreachable: (() => void) | null;
  #target: Target | null = null;
  #released = true;
  #tried: Target[] | null = null;
  #attempts = 0;
  #retriedSame = false;
  #controller: Dispatcher.DispatchController | null = null;
  #responded = false;
  #clientGone = false;
  #paused = false;
  /** Body bytes still to come when the upstream gave a Content-Length, else -1. */
  #remaining = -1;
  #waitTimer: NodeJS.Timeout | null = null;
  #waitUntil = 0;
  #nextWaitMs = FIRST_WAIT_MS;

  /**
   * `unreachable`: what to do instead when no target took the connection (so
   * nothing of the request was sent); null for an error page.
   */
  constructor(proxy: ProxyRuntime, ctx: RequestContext, headers: HeaderMap, hasBody: boolean, tunnel: TunnelRequest | null, unreachable: (() => void) | null = null) {
    this.#proxy = proxy;
    this.#ctx = ctx;
    this.#headers = headers;
    this.#body = hasBody ? { started: false, tooLarge: false } : null;
    this.#tunnel = tunnel;
    this.#unreachable = unreachable;
  }

  start(): void {
    // 'close' comes once; on() spares the wrapper once() would allocate per request.
    this.#ctx.res.on('close', this.#onClientClose);
    const target = this.#proxy.pick(this.#ctx.clientIp, null);
    if (target === null) {
      this.#proxy.noTarget(this.#ctx);
      return;
    }
    this.#send(target);
  }

  #send(target: Target): void {
    this.#target = target;
    this.#released = false;
    this.#controller = null;
    this.#attempts++;
    target.active++;
    const ctx = this.#ctx;
    const body = this.#body;
    target.pool.dispatch(
      {
        method: ctx.method as Dispatcher.HttpMethod,
        path: ctx.target,
        headers: this.#headers,
        // undici reads async iterables (its docs say so; its types do not list them).
        body: body === null ? null : (streamBody(ctx.req, this.#proxy.maxBodyBytes, body) as unknown as Readable),
        headersTimeout: this.#proxy.plan.responseTimeoutMs,
        bodyTimeout: 0,
        upgrade: this.#tunnel === null ? null : 'websocket',
      },
      this,
    );
  }

  // ── undici's callbacks ────────────────────────────────────────────────

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#clientGone) controller.abort(new ClientGoneError());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    // 1xx informational answers (103 Early Hints …) are not forwarded; the final answer follows.
    if (statusCode < 200) return;
    this.#proxy.succeeded(this.#target!);
    const res = this.#ctx.res;
    if (res.headersSent) {
      this.#responded = true;
      controller.abort(new Error('the response was already started'));
      return;
    }
    const length = headers['content-length'];
    this.#remaining = typeof length === 'string' && headers['transfer-encoding'] === undefined ? Number(length) : -1;
    try {
      res.writeHead(statusCode, endToEndHeaders(headers));
    } catch (error) {
      // A header Node refuses to send: nothing went out yet, so the client gets a clean 502 without the upstream's headers.
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      controller.abort(error as Error);
      return;
    }
    this.#responded = true;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const res = this.#ctx.res;
    if (this.#remaining > 0) {
      this.#remaining -= chunk.length;
      if (this.#remaining === 0) {
        // The last bytes of a known length: head and body leave in one write, and the response is done at once.
        res.end(chunk);
        return;
      }
    }
    if (!res.write(chunk) && !this.#paused) {
      this.#paused = true;
      controller.pause();
      res.once('drain', this.#onDrain);
    }
  }

  onResponseEnd(): void {
    this.#release();
    if (!this.#ctx.res.writableEnded) this.#ctx.res.end();
  }

  onRequestUpgrade(_controller: Dispatcher.DispatchController, _statusCode: number, headers: Record<string, string | string[] | undefined>, upstream: Duplex): void {
    this.#release();
    const tunnel = this.#tunnel;
    if (tunnel === null || this.#clientGone || tunnel.socket.destroyed) {
      upstream.destroy();
      return;
    }
    this.#responded = true;
    this.#proxy.succeeded(this.#target!);
    const client = tunnel.socket;
    const res = this.#ctx.res;
    res.off('close', this.#onClientClose);
    res.detachSocket(client as never);
    client.write(switchingProtocolsHead(headers));
    if (tunnel.head.length > 0) upstream.write(tunnel.head);
    this.#proxy.tunnelOpened(client, upstream);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    this.#release();
    if (this.#clientGone) return;
    const res = this.#ctx.res;
    if (this.#responded || res.headersSent) {
      // Too late for an error page: cut the response so the client sees it is incomplete.
      res.destroy();
      return;
    }
    if (this.#body?.tooLarge) {
      sendError(res, 413, `the request body is larger than ${this.#proxy.maxBodyBytes} bytes`, { close: true });
      return;
    }
    const target = this.#target!;
    const kind = failureKind(error);
    this.#proxy.failed(target, kind, error, this.#ctx);
    if (this.#mayRetry(kind)) {
      (this.#tried ??= []).push(target);
      const next = this.#attempts <= this.#proxy.plan.retries ? this.#nextTarget(kind, target) : null;
      if (next !== null) {
        this.#send(next);
        return;
      }
      if (this.#proxy.serviceWaitMs > 0 && nothingSent(kind) && this.#waitForService(target)) return;
      if (this.#unreachable !== null && nothingSent(kind)) {
        // The request is untouched (head unsent, body unread): the one who made the exchange serves it now.
        res.off('close', this.#onClientClose);
        this.#unreachable();
        return;
      }
    }
    if (this.#proxy.serviceName !== null && nothingSent(kind)) {
      sendError(res, 503, `the service "${this.#proxy.serviceName}" is not accepting connections (starting or restarting); try again in a moment`, {
        headers: { 'retry-after': '5' },
      });
      return;
    }
    const [status, detail] = failurePage(kind);
    sendError(res, status, detail, status === 400 ? { close: true } : undefined);
  }

  // ── retries ───────────────────────────────────────────────────────────

  /**
   * A connect failure sent nothing, so any request whose body is still unread
   * may go elsewhere (nginx's proxy_next_upstream does the same); a reset after
   * sending only for idempotent methods.
   */
  #mayRetry(kind: FailureKind): boolean {
    if (this.#body?.started) return false;
    return nothingSent(kind) || (kind === 'reset' && IDEMPOTENT.has(this.#ctx.method));
  }

  #nextTarget(kind: FailureKind, failed: Target): Target | null {
    const other = this.#proxy.pick(this.#ctx.clientIp, this.#tried);
    if (other !== null) return other;
    // A reset on a reused keep-alive connection usually means the upstream had just closed it: once more, same target.
    if (kind === 'reset' && !this.#retriedSame) {
      this.#retriedSame = true;
      return failed;
    }
    return null;
  }

  /** A service may be (re)starting: try its socket again with a growing pause, up to a bound. */
  #waitForService(target: Target): boolean {
    const now = Date.now();
    if (this.#waitUntil === 0) this.#waitUntil = now + this.#proxy.serviceWaitMs;
    if (now >= this.#waitUntil) return false;
    const delay = Math.min(this.#nextWaitMs, this.#waitUntil - now);
    this.#nextWaitMs = Math.min(MAX_WAIT_MS, this.#nextWaitMs * 2);
    this.#attempts = 0;
    this.#tried = null;
    this.#waitTimer = setTimeout(() => {
      this.#waitTimer = null;
      if (!this.#clientGone) this.#send(target);
    }, delay);
    return true;
  }

  // ── bookkeeping ───────────────────────────────────────────────────────

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#target!.active--;
  }

  readonly #onDrain = (): void => {
    this.#paused = false;
    this.#controller?.resume();
  };

  readonly #onClientClose = (): void => {
    if (this.#ctx.res.writableFinished) return;
    this.#clientGone = true;
    if (this.#waitTimer !== null) clearTimeout(this.#waitTimer);
    // Frees the upstream connection (an SSE stream or a long poll would otherwise run on).
    this.#controller?.abort(new ClientGoneError());
  };
}

/** The request headers for an upstream: end-to-end ones (Kirin's X-Forwarded-* included) and the right Host. */
export function upstreamHeaders(ctx: RequestContext, preserveHost: boolean): HeaderMap {
  const incoming = ctx.req.headers;
  const headers = endToEndHeaders(incoming);
  if (!preserveHost) delete headers.host;
  // HTTP/2 has :authority instead of Host.
  else if (headers.host === undefined) headers.host = (incoming[':authority'] as string | undefined) ?? ctx.authority;
  return headers;
}

/** The 101 head for the client: the upstream's headers minus hop-by-hop ones, then the upgrade itself. */
function switchingProtocolsHead(headers: Record<string, string | string[] | undefined>): string {
  let head = 'HTTP/1.1 101 Switching Protocols\r\n';
  const kept = endToEndHeaders(headers);
  for (const name in kept) {
    const value = kept[name]!;
    if (Array.isArray(value)) for (const v of value) head += `${name}: ${v}\r\n`;
    else head += `${name}: ${value}\r\n`;
  }
  const upgrade = headers.upgrade;
  return `${head}connection: Upgrade\r\nupgrade: ${Array.isArray(upgrade) ? upgrade[0] : (upgrade ?? 'websocket')}\r\n\r\n`;
}
