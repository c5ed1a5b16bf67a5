/**
 * What every stage of the request path sees: the Node request and response, the
 * normalized path, the site and route it matched, and the client as Kirin
 * resolved it. Built once per request; the costly parts (client address behind
 * trusted proxies) are computed on first use.
 */
import type { Duplex } from 'node:stream';
import type { RoutePlan, ServePlan, SitePlan } from '../config/plan.ts';
import type { Logger } from '../observe/log.ts';
import type { ClientResolver } from './client.ts';
import type { Socket } from 'node:net';
import type { NodeRequest, NodeResponse } from './node-message.ts';
import type { PrebuiltResponse } from './prebuilt-response.ts';
import type { SimpleRequest } from './simple-request.ts';

export type { NodeRequest, NodeResponse };

export type Next = () => void | Promise<void>;

/** A stage that runs before the handler: it answers (403, 429 …) or calls `next`. */
export type Middleware = (ctx: RequestContext, next: Next) => void | Promise<void>;

/** What a route ends in. It writes the response to `ctx.res`. */
export interface RouteHandler {
  handle(ctx: RequestContext): void | Promise<void>;
  /** HTTP/1.1 Upgrade (WebSocket). Without it, upgrades to the route get 501. */
  upgrade?(ctx: RequestContext, socket: Duplex, head: Buffer): void;
  /**
   * For the fast lane (fast-lane.ts): the whole response to a plain GET or
   * HEAD of `path` — one that depends on nothing else of the request but its
   * Accept-Encoding — or null when the handler must see the request. A
   * promise when it must look at the disk first. `now` is performance.now().
   */
  prebuilt?(path: string, acceptEncoding: string | undefined, now: number): PrebuiltResponse | null | Promise<PrebuiltResponse | null>;
  /**
   * For the fast lane: passes a plain GET or HEAD on itself (the proxy's
   * relay, handlers/proxy/relay.ts). False when it does not take this one;
   * once it returns true, it ends the exchange with exactly one call of
   * `done` or `handBack`.
   */
  relay?(exchange: LaneExchange): boolean;
  /**
   * Called when a response of this handler is over with a 5xx status, whoever
   * wrote it (the app's own error handler included): the app handler reports
   * it as an app error (last errors, alerts).
   */
  answeredServerError?(ctx: RequestContext, status: number): void;
  /**
   * With `sticky`: the pid of the worker that holds the session this request
   * belongs to (a Socket.IO `sid` of another worker's), when the request must
   * be forwarded there (worker/sticky/forward.ts); 0 to take it here. Asked
   * before middleware, which the owner runs, as it logs the request.
   */
  sessionOwner?(ctx: RequestContext): number;
  /** Called when the worker drains: stop timers, close pools. */
  close?(): void | Promise<void>;
  /**
   * True when user code gets Node's request object itself (a Node listener
   * app) and may wait for its events: then no listener ends body-less
   * requests early (servers.ts, `optimizeEmptyRequests`).
   */
  readonly exposesNodeRequest?: boolean;
}

/** A plain request the fast lane lets a handler pass on (RouteHandler.relay). One at a time per connection. */
export interface LaneExchange {
  /** The client's connection. Kirin reads nothing more from it until the exchange ends. */
  readonly socket: Socket;
  /** The request and where it goes: read them before `relay` returns (their objects serve the next request). */
  readonly request: SimpleRequest;
  readonly route: SimpleRoute;
  /** The client's address as Kirin resolves it (behind trusted proxies, from X-Forwarded-For). */
  clientIp(): string;
  /** Kirin's X-Forwarded-For/Proto/Host for this request, as field lines. */
  forwardingFields(): string;
  /** What node:http adds to a keep-alive response head: Date (when the head has none), Connection, Keep-Alive. */
  responseFields(withDate: boolean): string;
  /** The response is written in full (`bytes` bytes on the wire) or was cut: count and log it, then read on. */
  done(status: number, bytes: number): void;
  /** Nothing was written: the full path takes this request, and the connection from here on. */
  handBack(): void;
  /** Set by the handler while the exchange runs: called if the client's connection closes first. */
  onAbort: (() => void) | null;
}

/** What the worker process offers to the parts it hosts (TLS, metrics …). */
export interface WorkerServices {
  readonly logger: Logger;
  /** Sends a request to the master and waits for the answer. */
  ask<T = unknown>(type: string, payload: unknown): Promise<T>;
  /** Subscribes to messages the master pushes to every worker. */
  onPush(type: string, listener: (payload: unknown) => void): void;
  /** Tells the master something happened; it emits `worker-event:<type>`. */
  notify(type: string, payload: unknown): void;
}

/** Everything a handler or middleware factory may use while the worker compiles its plan. */
export interface CompileEnv {
  plan: ServePlan;
  site: SitePlan;
  route: RoutePlan;
  logger: Logger;
  /** Sends a message to the master and waits for its answer (rate limits, certificates). */
  ask<T = unknown>(type: string, payload: unknown): Promise<T>;
  /** Tells the master something happened (upstream health …); it emits `worker-event:<type>`. */
  notify(type: string, payload: unknown): void;
}

/** The compiled form of a route: its chain and handler, ready to run. */
export interface CompiledRoute {
  readonly plan: RoutePlan;
  readonly prefix: string;
  readonly handler: RouteHandler;
  /** null when the route has no middleware: the handler is called directly. */
  readonly chain: Middleware[] | null;
  /** The chain for requests on TLS connections: without a TLS site's own step, which `onSecure` does. */
  readonly secureChain: Middleware[] | null;
  /** A TLS site's step on a TLS connection (adds HSTS), or null. */
  readonly onSecure: ((res: NodeResponse) => void) | null;
  /** stripPrefix as compiled: the number of characters to remove, or 0. */
  readonly strip: string | null;
  /** The handler passes the request on (app, proxy): it gets Kirin's X-Forwarded-* headers. */
  readonly forwards: boolean;
}

export interface CompiledSite {
  readonly plan: SitePlan;
  /** Routes by descending prefix length: the first match is the longest. */
  readonly routes: CompiledRoute[];
  /** Set when the site is one route at '/': skip the search. */
  readonly onlyRoute: CompiledRoute | null;
}

export class RequestContext {
  readonly req: NodeRequest;
  readonly res: NodeResponse;
  readonly method: string;
  /** The decoded, normalized path: what routes and guards match. */
  readonly path: string;
  /** The percent-encoded normalized path (what is forwarded). */
  readonly encodedPath: string;
  /** The query string including '?', or ''. */
  readonly query: string;
  /** The host name, lower case, without port. */
  readonly host: string;
  /** The Host header as received (validated), e.g. 'example.com:8080'. */
  readonly authority: string;
  readonly site: CompiledSite;
  route: CompiledRoute;
  /** The decoded path the handler sees: `path` after stripPrefix. */
  handlerPath: string;
  /** The encoded path + query the handler forwards: `encodedPath` after stripPrefix, then query. */
  target: string;
  /** True on TLS connections. */
  readonly secure: boolean;
  readonly startTime: number;
  /** An exception behind this request's response was reported already (its 500 is not reported again as a status). */
  errorReported: boolean;
  /** The route's handler ran: a 5xx answered before it (a middleware's 503) is Kirin's, not the app's. */
  reachedHandler: boolean;
  readonly #resolver: ClientResolver;
  #clientIp: string | undefined;
  #scheme: 'http' | 'https' | undefined;

  constructor(
    req: NodeRequest,
    res: NodeResponse,
    method: string,
    path: string,
    encodedPath: string,
    query: string,
    host: string,
    authority: string,
    site: CompiledSite,
    route: CompiledRoute,
    secure: boolean,
    resolver: ClientResolver,
    startTime: number,
  ) {
    this.req = req;
    this.res = res;
    this.method = method;
    this.path = path;
    this.encodedPath = encodedPath;
    this.query = query;
    this.host = host;
    this.authority = authority;
    this.site = site;
    this.route = route;
    this.handlerPath = path;
    this.target = query ? encodedPath + query : encodedPath;
    this.secure = secure;
    this.#resolver = resolver;
    this.startTime = startTime;
    this.errorReported = false;
    this.reachedHandler = false;
    this.#clientIp = undefined;
    this.#scheme = undefined;
  }

  /** The address of the TCP peer (canonical), or '' for a unix socket. */
  get peerIp(): string {
    return this.#resolver.peer(this.req);
  }

  /** The client's address: the peer, or behind trusted proxies the rightmost untrusted address. */
  get clientIp(): string {
    return (this.#clientIp ??= this.#resolver.client(this.req));
  }

  /** 'https' on TLS, or what a trusted proxy says; 'http' otherwise. */
  get scheme(): 'http' | 'https' {
    return (this.#scheme ??= this.#resolver.scheme(this.req, this.secure));
  }
}

/** Where the fast lane's request goes (reused: one request at a time runs synchronously). */
export interface SimpleRoute {
  /** The host name, lower case, without port. */
  host: string;
  site: CompiledSite;
  route: CompiledRoute;
  /** The decoded path the handler sees (after stripPrefix). */
  handlerPath: string;
  /** For a route that forwards (proxy): the encoded path after stripPrefix, then the query, as on the full path; else ''. */
  target: string;
}

/** The part of the request path the TLS runtime hooks into (the pipeline has it): a step before site routing that answers ACME HTTP-01 challenges. */
export interface PreRouting {
  beforeRoute: ((req: NodeRequest, res: NodeResponse) => boolean) | null;
}
