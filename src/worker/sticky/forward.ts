/**
 * Sticky routing where a connection cannot move: on TLS listeners (HTTP/1.1
 * and HTTP/2) the first line is encrypted and a TLS session cannot change
 * process, and on PROXY protocol listeners the gate does not read; so once
 * such a request is parsed and routed, one that names another worker's
 * Socket.IO session goes to that worker over its peer socket
 * (peer-server.ts). The hop is the reverse proxy's own exchange
 * (handlers/proxy/exchange.ts): streamed both ways with backpressure, a
 * WebSocket upgrade tunnelled. It carries Kirin's X-Forwarded-For/-Proto/-Host
 * view of the client, which the owner believes on that socket only; the
 * owner runs the route's middleware and logs the request, this worker does
 * neither.
 *
 * A worker whose socket is missing or refuses the connection is gone (or
 * draining): the request is served where it landed, where the session is
 * unknown (400), and the client starts a new one — as when the master sends
 * a plain connection back. Never a 502 for that.
 */
import { existsSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { ProxyHandlerPlan } from '../../config/plan.ts';
import { Exchange, upstreamHeaders, type ProxyRuntime, type TunnelRequest } from '../../handlers/proxy/exchange.ts';
import { hasNoBody } from '../../handlers/proxy/request-body.ts';
import { Target } from '../../handlers/proxy/target.ts';
import { pipeTunnel } from '../../handlers/proxy/tunnel.ts';
import { parseUpstreamAddress } from '../../handlers/proxy/upstream-address.ts';
import { nothingSent, type FailedRequest, type FailureKind } from '../../handlers/proxy/upstream-failure.ts';
import type { Logger } from '../../observe/log.ts';
import type { RequestContext } from '../context.ts';
import { sendError } from '../error-response.ts';
import { peerSocketPath } from './peer-socket.ts';

/** The hop to a session's worker, as a proxy route's plan. */
const OWNER_HOP: ProxyHandlerPlan = Object.freeze({
  type: 'proxy',
  to: [],
  service: null,
  lb: 'round_robin',
  health: null,
  // A unix socket connects at once or not at all.
  connectTimeoutMs: 1000,
  // A long poll waits as long as the app holds it (engine.io: up to pingInterval); a hung owner is the master's watchdog's to end.
  responseTimeoutMs: 0,
  // One more try only for a reset on a reused keep-alive connection (the owner closed it as the request left); never elsewhere.
  retries: 1,
  maxFails: 1,
  failTimeoutMs: 0,
  preserveHost: true,
});

export class SessionForwarder {
  readonly #stateDir: string;
  readonly #logger: Logger;
  readonly #owners = new Map<number, OwnerLink>();
  /** WebSocket tunnels to owners, closed on drain. */
  readonly tunnels = new Set<Duplex>();

  constructor(stateDir: string, logger: Logger) {
    this.#stateDir = stateDir;
    this.#logger = logger;
  }

  /**
   * Sends the request (or, with `tunnel`, the upgrade) to worker `owner`;
   * calls `here` instead when that worker cannot be reached.
   */
  forward(owner: number, ctx: RequestContext, tunnel: TunnelRequest | null, here: () => void): void {
    const link = this.#linkTo(owner);
    if (link === null) return here();
    // Reading ctx.req.headers applies Kirin's X-Forwarded-* view of the client (the route forwards).
    new Exchange(link, ctx, upstreamHeaders(ctx, true), tunnel === null && !hasNoBody(ctx.req), tunnel, here).start();
  }

  #linkTo(owner: number): OwnerLink | null {
    let link = this.#owners.get(owner);
    if (link === undefined) {
      const path = peerSocketPath(this.#stateDir, owner);
      // First contact: a pid without a worker (an old or made-up sid) costs a stat, not a connection pool.
      if (!existsSync(path)) return null;
      link = new OwnerLink(this, owner, path);
      this.#owners.set(owner, link);
    }
    return link;
  }

  /** An exchange with `link` failed (the request is answered by then: served here, or an error page). */
  failed(link: OwnerLink, kind: FailureKind, error: unknown, request: FailedRequest): void {
    if (nothingSent(kind)) {
      // The worker has exited or is draining (its socket closes then): forget it; its sessions start over where they land.
      if (this.#owners.get(link.owner) === link) this.#owners.delete(link.owner);
      void link.target.pool.close().catch(() => {});
      this.#logger.debug({ owner: link.owner, code: (error as { code?: string }).code }, `sticky: worker ${link.owner} does not take its sessions' requests any more; serving them here`);
      return;
    }
    const code = (error as { code?: string }).code;
    this.#logger.warn(
      { owner: link.owner, kind, code, method: request.method, path: request.target },
      `sticky: a request for a session of worker ${link.owner} failed on the way there (${kind}${code ? `, ${code}` : ''}): ${request.method} ${request.target}`,
    );
  }

  /** On drain: the tunnels and the connections to other workers. */
  close(): void {
    for (const tunnel of this.tunnels) tunnel.destroy();
    for (const link of this.#owners.values()) void link.target.pool.destroy().catch(() => {});
    this.#owners.clear();
  }
}

/** The hop to one worker: a proxy route with that worker's peer socket as its only target. */
class OwnerLink implements ProxyRuntime {
  readonly plan = OWNER_HOP;
  // The owner counts the body against the route's limit: it runs the same route.
  readonly maxBodyBytes = Number.POSITIVE_INFINITY;
  readonly serviceWaitMs = 0;
  readonly serviceName = null;
  readonly owner: number;
  readonly target: Target;
  readonly #forwarder: SessionForwarder;

  constructor(forwarder: SessionForwarder, owner: number, path: string) {
    this.#forwarder = forwarder;
    this.owner = owner;
    this.target = new Target(parseUpstreamAddress(`unix:${path}`), { connectTimeoutMs: OWNER_HOP.connectTimeoutMs, responseTimeoutMs: OWNER_HOP.responseTimeoutMs });
  }

  pick(_clientIp: string, exclude: readonly Target[] | null): Target | null {
    return exclude !== null && exclude.includes(this.target) ? null : this.target;
  }

  succeeded(): void {}

  failed(_target: Target, kind: FailureKind, error: unknown, request: FailedRequest): void {
    this.#forwarder.failed(this, kind, error, request);
  }

  noTarget(ctx: RequestContext): void {
    // Not reached: pick offers the owner's socket to every new exchange.
    sendError(ctx.res, 503);
  }

  tunnelOpened(client: Duplex, upstream: Duplex): void {
    pipeTunnel(client, upstream, this.#forwarder.tunnels);
  }
}
