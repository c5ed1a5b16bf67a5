/**
 * The request path inside a worker (DESIGN.md):
 *
 *   normalize → site (by Host) → client → route (longest prefix) → middleware → handler
 *
 * Everything a request may be refused for before the app runs is decided here,
 * once, with the same normalized path for guards and handlers.
 *
 * With `sticky`, a request of another worker's Socket.IO session is forwarded
 * to that worker once routed (worker/sticky/forward.ts); there it comes in
 * through the peer entry points (`onPeerRequest`, `onPeerUpgrade`), which
 * believe the forwarding worker's X-Forwarded-* and never forward again.
 */
import type { IncomingMessage } from 'node:http';
import { ServerResponse } from '../util/node-http.ts';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
// A module binding: the `performance` global is a getter, dearer on every request.
import { performance } from 'node:perf_hooks';
import type { LimitsPlan } from '../config/plan.ts';
import { runChain } from '../middleware/index.ts';
import type { AccessLog } from '../observe/access-log.ts';
import type { Logger } from '../observe/log.ts';
import { ClientResolver } from './client.ts';
import { RequestContext, type CompiledRoute, type CompiledSite, type Middleware, type NodeRequest, type NodeResponse, type SimpleRoute } from './context.ts';
import { sendError } from './error-response.ts';
import { parseHost, type SiteMap } from './host.ts';
import { forwardedFieldLines } from './http-fields.ts';
import { applyForwarding, KirinIncomingMessage, limitChunkedBody, rawHeader, scanHead, type RequestHead } from './incoming.ts';
import { normalizeTargetInto, type NormalizedTarget } from './normalize.ts';
import type { SimpleRequest } from './simple-request.ts';
import type { SessionForwarder } from './sticky/forward.ts';
import { kWatchBytes, kWatchCtx, kWatchStart, kWatchUrl, whenResponseCloses } from './outgoing.ts';

export interface RequestObserver {
  /** Called once per request when its response is done (or the client left); site and route are null for refused requests. */
  done(site: CompiledSite | null, route: CompiledRoute | null, status: number, durationMs: number): void;
  /** Called besides `done` for a request the fast lane answered. */
  fastLane(): void;
}

interface Refusal {
  status: number;
  detail: string | undefined;
  /** Close the connection after answering. */
  close: boolean;
}

const MALFORMED_HOST: Refusal = { status: 400, detail: 'malformed Host header', close: false };
const NOT_FOUND: Refusal = { status: 404, detail: undefined, close: false };
const CLOSE = { close: true };


type WatchedResponse = NodeResponse & { [kWatchCtx]: RequestContext | null; [kWatchStart]: number; [kWatchBytes]: number; [kWatchUrl]: string };

export class Pipeline {
  readonly #sites: SiteMap<CompiledSite>;
  readonly #onlySite: CompiledSite | null;
  readonly #resolver: ClientResolver;
  /** Sticky routing's hop to a session's worker, and the resolver of requests that came that way; null without `sticky`. */
  readonly #forwarder: SessionForwarder | null;
  readonly #peerResolver: ClientResolver;
  readonly #limits: LimitsPlan;
  readonly #logger: Logger;
  readonly #accessLog: AccessLog | null;
  readonly #observer: RequestObserver | null;
  /** Requests started (served and in progress). */
  served = 0;
  /** Once set, every response closes its connection: the worker is on its way out. */
  draining = false;
  /** The request whose synchronous part is running now, for the watchdog. */
  current: RequestContext | null = null;
  /** Scratch space for the request head (one request at a time runs synchronously). */
  readonly #head: RequestHead = { host: undefined, hostRepeated: false, contentLength: undefined, chunked: false };
  readonly #target: NormalizedTarget = { path: '', encodedPath: '', query: '' };
  /**
   * Runs before site routing; true when it answered the request. The TLS
   * runtime sets it to answer ACME HTTP-01 challenges on every listener,
   * whatever the site's routes and guards (tls/worker-tls.ts). Null otherwise.
   */
  beforeRoute: ((req: NodeRequest, res: NodeResponse) => boolean) | null = null;
  /** Set by `kirin dev` (src/dev/worker.ts): beforeRoute sees every request, so the fast lane takes none. */
  everyRequestFullPath = false;

  constructor(options: {
    sites: SiteMap<CompiledSite>;
    resolver: ClientResolver;
    forwarder?: SessionForwarder | null;
    limits: LimitsPlan;
    logger: Logger;
    accessLog: AccessLog | null;
    observer: RequestObserver | null;
  }) {
    this.#sites = options.sites;
    this.#onlySite = options.sites.only;
    this.#resolver = options.resolver;
    this.#forwarder = options.forwarder ?? null;
    this.#peerResolver = this.#forwarder === null ? options.resolver : ClientResolver.forWorkerPeers();
    this.#limits = options.limits;
    this.#logger = options.logger;
    this.#accessLog = options.accessLog;
    this.#observer = options.observer;
    this.#onResponseClose = (res: NodeResponse) => this.#responseClosed(res as WatchedResponse);
  }

  /** One function for every response (no closure per request); the state rides on the response. */
  readonly #onResponseClose: (res: NodeResponse) => void;
  /** The last Host seen and what it parsed to: a connection sends the same one again and again. */
  #lastAuthority = '';
  #lastHost: string | null = null;
  /** What #locate found last. */
  #host: string | null = null;
  #site: CompiledSite | null = null;
  #matched: CompiledRoute | null = null;
  readonly #simple: SimpleRoute = { host: '', site: null as unknown as CompiledSite, route: null as unknown as CompiledRoute, handlerPath: '', target: '' };

  /** A request on one of Kirin's listeners. */
  onRequest = (req: NodeRequest, res: NodeResponse): void => this.#request(req, res, this.#resolver, this.#forwarder);

  /** A request another worker forwarded to this one, the owner of its session (worker/sticky/peer-server.ts). */
  onPeerRequest = (req: NodeRequest, res: NodeResponse): void => this.#request(req, res, this.#peerResolver, null);

  /** HTTP/1.1 Upgrade requests (WebSocket): the same checks, then the route's upgrade handler. */
  onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.#upgrade(req, socket, head, this.#resolver, this.#forwarder);

  /** An upgrade another worker forwarded to this one, the owner of its session. */
  onPeerUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.#upgrade(req, socket, head, this.#peerResolver, null);

  #request(req: NodeRequest, res: NodeResponse, resolver: ClientResolver, forwarder: SessionForwarder | null): void {
    this.served++;
    const start = performance.now();
    if (this.draining && 'shouldKeepAlive' in res) res.shouldKeepAlive = false;
    // Counting bytes reads the socket's write queue: only the access log needs it.
    const bytesBefore = this.#accessLog !== null ? (req.socket?.bytesWritten ?? 0) : 0;
    const ctx = this.#route(req, res, start, resolver);
    const owner = sessionOwner(ctx, forwarder);
    if (owner !== 0) forwarder!.forward(owner, ctx!, null, () => this.#serve(req, res, start, ctx, bytesBefore));
    else this.#serve(req, res, start, ctx, bytesBefore);
  }

  /** Logs and meters the request, and runs its route (or only logs it when it was refused: ctx null). */
  #serve(req: NodeRequest, res: NodeResponse, start: number, ctx: RequestContext | null, bytesBefore: number): void {
    const observed = this.#accessLog !== null || this.#observer !== null;
    if (observed) this.#watch(req, res, start, ctx, bytesBefore);
    if (ctx === null) return;
    this.current = ctx;
    try {
      const chain = chainFor(ctx);
      const result = chain === null ? handle(ctx) : runChain(chain, ctx, () => handle(ctx));
      if (result !== undefined) result.then(undefined, (error: unknown) => this.#fail(ctx, error));
    } catch (error) {
      this.#fail(ctx, error);
    }
    this.current = null;
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, resolver: ClientResolver, forwarder: SessionForwarder | null): void {
    this.served++;
    const res = responseOnSocket(req, socket);
    const start = performance.now();
    const bytesBefore = this.#accessLog !== null ? ((socket as Socket).bytesWritten ?? 0) : 0;
    const ctx = this.#route(req, res, start, resolver);
    const owner = sessionOwner(ctx, forwarder);
    if (owner !== 0) forwarder!.forward(owner, ctx!, { socket, head }, () => this.#upgradeHere(req, socket, head, res, start, ctx, bytesBefore));
    else this.#upgradeHere(req, socket, head, res, start, ctx, bytesBefore);
  }

  #upgradeHere(req: IncomingMessage, socket: Duplex, head: Buffer, res: ServerResponse, start: number, ctx: RequestContext | null, bytesBefore: number): void {
    const observed = this.#accessLog !== null || this.#observer !== null;
    if (observed) this.#watch(req, res, start, ctx, bytesBefore);
    if (ctx === null) return;
    const upgrade = ctx.route.handler.upgrade;
    if (!upgrade) {
      sendError(res, 501, 'this route does not accept protocol upgrades');
      return;
    }
    const last = () => {
      // The handler owns the socket from here: the 101 (or its error) is its to write.
      res.detachSocket(socket as never);
      if (observed) whenUpgradeAnswered(socket, (status, bytes) => this.#record(ctx, req, req.url ?? '', status, performance.now() - start, bytes));
      upgrade.call(ctx.route.handler, ctx, socket, head);
    };
    try {
      const chain = chainFor(ctx);
      const result = chain === null ? last() : runChain(chain, ctx, last);
      if (result !== undefined) result.then(undefined, (error: unknown) => this.#fail(ctx, error));
    } catch (error) {
      this.#fail(ctx, error);
    }
  }

  /** Hygiene, site and route. Answers the request itself (and returns null) when it is refused. */
  #route(req: NodeRequest, res: NodeResponse, start: number, resolver: ClientResolver): RequestContext | null {
    const method = req.method ?? 'GET';
    if (method === 'CONNECT') {
      sendError(res, 405, 'CONNECT is not supported', { close: true });
      return null;
    }
    if (this.beforeRoute !== null && this.beforeRoute(req, res)) return null;
    const head = this.#head;
    if (req instanceof KirinIncomingMessage) scanHead(req.rawHeaders, head);
    else {
      // HTTP/2: the compat request's headers are a plain object already.
      const pseudoAuthority = req.headers[':authority'] as string | undefined;
      const host = req.headers.host;
      // Routed by one, read by the app or an upstream by the other: RFC 9113 §8.3.1 makes the request malformed (HAProxy: 400).
      if (pseudoAuthority !== undefined && host !== undefined && host !== pseudoAuthority && host.toLowerCase() !== pseudoAuthority.toLowerCase()) {
        sendError(res, 400, 'the host header differs from :authority');
        return null;
      }
      head.host = pseudoAuthority ?? host;
      head.hostRepeated = false;
      head.contentLength = req.headers['content-length'];
      // HTTP/2 bodies are framed; the handlers that read them count against the limit.
      head.chunked = false;
    }
    // From the start, so that a request refused before its route is known cannot stream a body without end either.
    if (head.chunked) limitChunkedBody(req as KirinIncomingMessage, this.#limits.maxBodyBytes, undefined);
    if (head.hostRepeated) {
      sendError(res, 400, 'more than one Host header');
      return null;
    }
    let authority = head.host;
    if (resolver.trustsSomeone) authority = resolver.forwardedHost(req) ?? authority;
    if (authority === undefined) {
      sendError(res, 400, 'missing Host header');
      return null;
    }
    const refusal = this.#locate(authority, req.url ?? '');
    if (refusal !== null) {
      sendError(res, refusal.status, refusal.detail, refusal.close ? CLOSE : undefined);
      return null;
    }
    const host = this.#host!;
    const site = this.#site!;
    const route = this.#matched!;
    const target = this.#target;
    if (req.rawHeaders.length > this.#limits.maxHeaders * 2) {
      sendError(res, 431, `more than ${this.#limits.maxHeaders} header fields`);
      return null;
    }
    const declaredLength = head.contentLength;
    const maxBody = route.plan.middleware.maxBodyBytes;
    if (declaredLength !== undefined && Number(declaredLength) > maxBody) {
      sendError(res, 413, `the request body is larger than ${maxBody} bytes`);
      return null;
    }
    if (head.chunked && declaredLength === undefined) {
      limitChunkedBody(req as KirinIncomingMessage, maxBody, () => sendError(res, 413, `the request body is larger than ${maxBody} bytes`));
    }
    const ctx = new RequestContext(req, res, method, target.path, target.encodedPath, target.query, host, authority, site, route, arrivedOverTls(req), resolver, start);
    if (route.strip !== null) {
      ctx.handlerPath = afterStrip(route, target.path);
      const encoded = afterStrip(route, target.encodedPath);
      ctx.target = target.query ? encoded + target.query : encoded;
    }
    if (route.forwards) applyForwarding(ctx);
    return ctx;
  }

  /**
   * Host → site, target → normalized path → route: into #host, #site, #target
   * and #matched. Returns why the request is refused, or null.
   */
  #locate(authority: string, url: string): Refusal | null {
    let host: string | null;
    if (authority === this.#lastAuthority) host = this.#lastHost;
    else {
      host = parseHost(authority);
      this.#lastAuthority = authority;
      this.#lastHost = host;
    }
    if (host === null) return MALFORMED_HOST;
    const site = this.#onlySite ?? this.#sites.match(host);
    if (site === null) return { status: 421, detail: `no site here answers for ${host}`, close: true };
    const target = this.#target;
    const refused = normalizeTargetInto(url, target);
    if (refused !== null) return { status: 400, detail: refused, close: false };
    const route = site.onlyRoute ?? matchRoute(site.routes, target.path);
    if (route === null) return NOT_FOUND;
    this.#host = host;
    this.#site = site;
    this.#matched = route;
    return null;
  }

  /**
   * For the fast lane (fast-lane.ts): the route a plain GET or HEAD for `url`
   * on `authority` reaches when no middleware would look at the request, and
   * the path its handler sees. Null when the request must take the full path
   * (which may refuse it). A route that forwards gets its X-Forwarded-* fields
   * from the handler that takes the request (`forwardingFields`).
   */
  simpleRoute(authority: string, url: string): SimpleRoute | null {
    if (this.draining || this.everyRequestFullPath) return null;
    // The TLS runtime answers ACME HTTP-01 challenges under /.well-known/ before routing.
    if (this.beforeRoute !== null && url.startsWith('/.well-known/')) return null;
    if (this.#locate(authority, url) !== null) return null;
    const route = this.#matched!;
    if (route.chain !== null) return null;
    const simple = this.#simple;
    const target = this.#target;
    simple.host = this.#host!;
    simple.site = this.#site!;
    simple.route = route;
    simple.handlerPath = afterStrip(route, target.path);
    simple.target = route.forwards ? afterStrip(route, target.encodedPath) + target.query : '';
    return simple;
  }

  /** The client of a fast-lane request, as the full path resolves it. */
  simpleClient(socket: Socket, request: SimpleRequest): string {
    const peer = this.#resolver.peerOf(socket);
    return request.forwardedFor === undefined ? peer : this.#resolver.clientFrom(peer, { 'x-forwarded-for': request.forwardedFor });
  }

  /** Kirin's X-Forwarded-* view of a fast-lane request as field lines: what applyForwarding sets on the full path. */
  forwardingFields(socket: Socket, request: SimpleRequest, client: string): string {
    const scheme = request.forwardedProto === undefined ? 'http' : this.#resolver.schemeFrom(this.#resolver.peerOf(socket), { 'x-forwarded-proto': request.forwardedProto }, false);
    return forwardedFieldLines(client, scheme, request.host);
  }

  /** The fast lane answered `request` with `bytes` bytes: count, log and meter it as the full path would. */
  servedSimple(socket: Socket, request: SimpleRequest, simple: SimpleRoute, status: number, bytes: number, start: number): void {
    this.served++;
    const durationMs = performance.now() - start;
    if (this.#accessLog !== null) {
      this.#accessLog.record({
        client: this.simpleClient(socket, request),
        method: request.method,
        host: simple.host,
        path: request.target,
        status,
        bytes,
        durationMs,
        userAgent: request.userAgent,
        site: simple.site.plan.key,
      });
    }
    if (this.#observer !== null) {
      this.#observer.done(simple.site, simple.route, status, durationMs);
      this.#observer.fastLane();
    }
  }

  /** Access log and metrics when the response is done. Bytes are what went out on the wire for it, head included (nginx's $bytes_sent). */
  #watch(req: NodeRequest, res: NodeResponse, start: number, ctx: RequestContext | null, bytesBefore: number): void {
    const watched = res as WatchedResponse;
    watched[kWatchCtx] = ctx;
    watched[kWatchUrl] = req.url ?? '';
    watched[kWatchStart] = start;
    watched[kWatchBytes] = bytesBefore;
    whenResponseCloses(res, this.#onResponseClose);
  }

  #responseClosed(res: WatchedResponse): void {
    const req = res.req as NodeRequest;
    const status = res.writableFinished ? res.statusCode : 499;
    const bytes = this.#accessLog !== null ? Math.max(0, (req.socket?.bytesWritten ?? 0) - res[kWatchBytes]) : 0;
    this.#record(res[kWatchCtx], req, res[kWatchUrl], status, performance.now() - res[kWatchStart], bytes);
  }

  #record(ctx: RequestContext | null, req: NodeRequest, path: string, status: number, durationMs: number, bytes: number): void {
    if (this.#accessLog !== null) {
      this.#accessLog.record({
        client: ctx === null ? this.#resolver.peer(req) : ctx.clientIp,
        method: req.method ?? '',
        host: ctx === null ? (rawHeader(req.rawHeaders, 'host') ?? '') : ctx.host,
        path,
        status,
        bytes,
        durationMs,
        userAgent: rawHeader(req.rawHeaders, 'user-agent'),
        site: ctx === null ? '' : ctx.site.plan.key,
      });
    }
    if (this.#observer !== null) this.#observer.done(ctx === null ? null : ctx.site, ctx === null ? null : ctx.route, status, durationMs);
    if (status >= 500 && ctx !== null) ctx.route.handler.answeredServerError?.(ctx, status);
  }

  #fail(ctx: RequestContext, error: unknown): void {
    this.#logger.error({ err: error, method: ctx.method, path: ctx.target, host: ctx.host, route: ctx.route.plan.at }, 'request failed; answered 500');
    sendError(ctx.res, 500);
  }
}

/** Whether the request came over TLS. HTTP/2: the session knows; the compatibility request's socket is a Proxy made on first read. */
export function arrivedOverTls(req: NodeRequest): boolean {
  return req instanceof KirinIncomingMessage
    ? (req.socket as { encrypted?: boolean } | null)?.encrypted === true
    : (req as unknown as { stream: { session?: { encrypted?: boolean } } }).stream.session?.encrypted === true;
}

/**
 * A response object on an upgrade's socket, for the answers Kirin or a
 * handler writes in HTTP (refusals, a fetch app's Response instead of a 101).
 */
export function responseOnSocket(req: IncomingMessage, socket: Duplex): ServerResponse {
  const res = new ServerResponse(req);
  res.assignSocket(socket as never);
  res.shouldKeepAlive = false;
  // A hand-made response does not close its connection when done (the server only does that for its own): a refusal must.
  res.once('finish', () => socket.end());
  return res;
}

/**
 * Calls `answered` once with the status and size of the head the upgrade
 * handler writes first (101, or the app's refusal), or 499 when the socket
 * closes before any: the access log line and metrics of an upgrade, logged
 * when it is answered (a WebSocket may then stay open for hours). The spy on
 * write/end is removed at the first call.
 */
function whenUpgradeAnswered(socket: Duplex, answered: (status: number, headBytes: number) => void): void {
  const write = socket.write;
  const end = socket.end;
  let done = false;
  const settle = (chunk: unknown) => {
    if (done) return;
    done = true;
    // Put back, not deleted: deleting properties turns the socket into a slow dictionary-mode object (+3 KB per WebSocket).
    socket.write = write;
    socket.end = end;
    socket.off('close', onClose);
    const head = typeof chunk === 'string' ? chunk.slice(0, 12) : Buffer.isBuffer(chunk) ? chunk.toString('latin1', 0, 12) : '';
    const bytes = typeof chunk === 'string' ? Buffer.byteLength(chunk) : Buffer.isBuffer(chunk) ? chunk.length : 0;
    answered(head.startsWith('HTTP/1.') ? Number(head.slice(9, 12)) || 499 : 499, bytes);
  };
  const onClose = () => settle(null);
  socket.once('close', onClose);
  socket.write = function (this: Duplex, chunk: unknown) {
    settle(chunk);
    return Reflect.apply(write, this, arguments);
  } as typeof socket.write;
  socket.end = function (this: Duplex, chunk?: unknown) {
    if (typeof chunk !== 'function') settle(chunk ?? null);
    return Reflect.apply(end, this, arguments);
  } as typeof socket.end;
}

/** With sticky routing: the worker a request of another worker's session belongs to, or 0 to take it here. */
function sessionOwner(ctx: RequestContext | null, forwarder: SessionForwarder | null): number {
  if (ctx === null || forwarder === null) return 0;
  const owner = ctx.route.handler.sessionOwner;
  return owner === undefined ? 0 : owner.call(ctx.route.handler, ctx);
}

function handle(ctx: RequestContext): void | Promise<void> {
  ctx.reachedHandler = true;
  return ctx.route.handler.handle(ctx);
}

/** The middleware a request runs. On a TLS connection a TLS site's own step (HSTS) is done here, not as a chain step. */
function chainFor(ctx: RequestContext): Middleware[] | null {
  const route = ctx.route;
  if (!ctx.secure) return route.chain;
  if (route.onSecure !== null) route.onSecure(ctx.res);
  return route.secureChain;
}

/** A path as the route's handler sees it: without the prefix stripPrefix removes ('/' when nothing is left). */
function afterStrip(route: CompiledRoute, path: string): string {
  return route.strip === null ? path : path.slice(route.strip.length) || '/';
}

/** Longest prefix first; a prefix matches itself and what lies below it; ASCII case is ignored so '/ADMIN' meets '/admin' guards. */
export function matchRoute(routes: readonly CompiledRoute[], path: string): CompiledRoute | null {
  for (const route of routes) {
    const prefix = route.prefix;
    if (prefix === '/') return route;
    const length = prefix.length;
    if (path.length < length) continue;
    if (path.length > length && path.charCodeAt(length) !== 47) continue;
    if (path.startsWith(prefix) || path.slice(0, length).toLowerCase() === prefix.toLowerCase()) return route;
  }
  return null;
}

