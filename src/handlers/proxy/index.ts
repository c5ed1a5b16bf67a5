/**
 * The `proxy` handler: forwards a route to upstream servers (nginx's
 * proxy_pass, Caddy's reverse_proxy).
 *
 * Per worker and route: one keep-alive pool per upstream (undici), a
 * load-balancing policy, active health checks and passive failure counting.
 * Requests carry Kirin's X-Forwarded-* view of the client (set on req.headers
 * by the pipeline, src/worker/incoming.ts), the normalized path
 * (after stripPrefix), and lose their hop-by-hop headers both ways. Health
 * changes go to the master (`upstream-health`) for status, metrics and alerts.
 */
import type { Duplex } from 'node:stream';
import type { ProxyHandlerPlan } from '../../config/plan.ts';
import type { Logger } from '../../observe/log.ts';
import type { CompileEnv, LaneExchange, RequestContext, RouteHandler } from '../../worker/context.ts';
import { sendError } from '../../worker/error-response.ts';
import { createBalancer, type Balancer } from './balancer.ts';
import { Exchange, upstreamHeaders, type ProxyRuntime } from './exchange.ts';
import { HealthChecker } from './health-check.ts';
import { hasNoBody } from './request-body.ts';
import { Target } from './target.ts';
import { pipeTunnel } from './tunnel.ts';
import { parseUpstreamAddress, serviceUpstreamUrl } from './upstream-address.ts';
import { isTargetFailure, type FailedRequest, type FailureKind } from './upstream-failure.ts';

/** A request for a service that is restarting waits at most this long (or its readyTimeout, if shorter). */
const SERVICE_WAIT_CAP_MS = 10_000;
/** Upstream errors are logged at most this often per target, with a count of the ones left out. */
const ERROR_LOG_INTERVAL_MS = 1_000;

export function createProxyHandler(plan: ProxyHandlerPlan, env: CompileEnv): RouteHandler {
  return new ProxyHandler(plan, env);
}

class ProxyHandler implements RouteHandler, ProxyRuntime {
  readonly plan: ProxyHandlerPlan;
  readonly maxBodyBytes: number;
  readonly serviceWaitMs: number;
  readonly serviceName: string | null;
  readonly #targets: Target[];
  readonly #only: Target | null;
  readonly #balancer: Balancer<Target>;
  readonly #env: CompileEnv;
  readonly #logger: Logger;
  readonly #health: HealthChecker | null;
  readonly #tunnels = new Set<Duplex>();
  readonly #lastErrorLog = new Map<Target, { at: number; skipped: number }>();
  /** State of the current pick, read by the predicates (no closure per request). */
  #now = 0;
  #exclude: readonly Target[] | null = null;

  constructor(plan: ProxyHandlerPlan, env: CompileEnv) {
    this.plan = plan;
    this.#env = env;
    this.#logger = env.logger.child({ route: env.route.at });
    this.maxBodyBytes = env.route.middleware.maxBodyBytes;
    let urls = plan.to;
    this.serviceName = plan.service;
    this.serviceWaitMs = 0;
    if (plan.service !== null) {
      const service = env.plan.services[plan.service];
      const url = service ? serviceUpstreamUrl(service) : null;
      if (!service || url === null) {
        throw new Error(`${env.route.at}.proxy.service: the service "${plan.service}" has no {socket} or {port} in its command, so there is nothing to proxy to`);
      }
      urls = [url];
      this.serviceWaitMs = Math.min(service.readyTimeoutMs, SERVICE_WAIT_CAP_MS);
    }
    this.#targets = urls.map((url) => new Target(parseUpstreamAddress(url), { connectTimeoutMs: plan.connectTimeoutMs, responseTimeoutMs: plan.responseTimeoutMs }));
    for (const target of this.#targets) {
      if (target.relay === null) continue;
      target.relay.onFinished = (failure, error, request) => {
        target.active--;
        if (failure !== null) this.failed(target, failure, error, request!);
      };
    }
    this.#only = this.#targets.length === 1 ? this.#targets[0]! : null;
    this.#balancer = createBalancer<Target>(plan.lb);
    this.#health = plan.health ? new HealthChecker(this.#targets, plan.health, (t) => this.#checkHost(t), (t, ok, detail) => this.#checked(t, ok, detail)) : null;
    this.#health?.start();
  }

  handle(ctx: RequestContext): void {
    if (ctx.method === 'TRACE') {
      // TRACE echoes the request (cookies, auth) back: no app needs it through a proxy.
      sendError(ctx.res, 405, 'TRACE is not forwarded', { headers: { allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS' } });
      return;
    }
    const te = ctx.req.headers['transfer-encoding'];
    if (te !== undefined && te.trim().toLowerCase() !== 'chunked') {
      // Node refuses such bodies only once it reads them; the upstream must never see the request start.
      sendError(ctx.res, 400, 'unsupported Transfer-Encoding', { close: true });
      return;
    }
    // req.headers already carries Kirin's X-Forwarded-* view of the client (the pipeline's applyForwarding).
    new Exchange(this, ctx, upstreamHeaders(ctx, this.plan.preserveHost), !hasNoBody(ctx.req), null).start();
  }

  upgrade(ctx: RequestContext, socket: Duplex, head: Buffer): void {
    const res = ctx.res;
    // The pipeline hands the socket over bare; back on the response, error pages and non-101 answers get their
    // framing (and the pipeline's 'finish' listener closes the connection after them).
    res.assignSocket(socket as never);
    const protocol = String(ctx.req.headers.upgrade ?? '').trim().toLowerCase();
    if (protocol !== 'websocket') {
      // h2c and other upgrades would let a client talk past Kirin to the upstream.
      sendError(res, 501, 'only WebSocket upgrades are forwarded', { close: true });
      return;
    }
    if (ctx.method !== 'GET') {
      sendError(res, 400, 'a WebSocket upgrade is a GET request', { close: true });
      return;
    }
    new Exchange(this, ctx, upstreamHeaders(ctx, this.plan.preserveHost), false, { socket, head }).start();
  }

  /**
   * The fast lane's plain GET or HEAD, relayed over a raw connection (relay.ts)
   * when its target is in good standing; else the full path takes it.
   */
  relay(exchange: LaneExchange): boolean {
    // After a failure the full path's retries, balancing and error pages take over, until the failing target answers well again.
    for (const target of this.#targets) if (target.fails > 0) return false;
    const target = this.pick(this.plan.lb === 'ip_hash' ? exchange.clientIp() : '', null);
    if (target === null || target.relay === null) return false;
    target.active++;
    target.relay.send(exchange, this.#relayedHead(exchange, target), exchange.request.method === 'HEAD');
    return true;
  }

  /** The request head for the upstream: the client's field lines minus those the full path drops, Host per `preserveHost`, Kirin's X-Forwarded-*. */
  #relayedHead(exchange: LaneExchange, target: Target): string {
    const request = exchange.request;
    const head = request.head;
    let text = `${request.method} ${exchange.route.target} HTTP/1.1\r\n`;
    const dropped = request.dropped;
    let pos = request.fieldsStart;
    // Without preserveHost the client's Host line is one more span to leave out, in its place among the others.
    let hostStart = -1;
    let hostEnd = -1;
    if (!this.plan.preserveHost) {
      text += `host: ${target.address.host}\r\n`;
      [hostStart, hostEnd] = request.hostLine;
    }
    for (let i = 0; i < dropped.length; i += 2) {
      if (hostStart !== -1 && hostStart < dropped[i]!) {
        text += head.slice(pos, hostStart);
        pos = hostEnd;
        hostStart = -1;
      }
      text += head.slice(pos, dropped[i]);
      pos = dropped[i + 1]!;
    }
    if (hostStart !== -1) {
      text += head.slice(pos, hostStart);
      pos = hostEnd;
    }
    return `${text}${head.slice(pos, head.length - 2)}${exchange.forwardingFields()}\r\n`;
  }

  /** On drain, after the last request: nothing in flight is left to wait for but health checks. */
  close(): void {
    this.#health?.stop();
    for (const tunnel of this.#tunnels) tunnel.destroy();
    for (const target of this.#targets) {
      void target.pool.destroy().catch(() => {});
      target.relay?.close();
    }
  }

  // ── ProxyRuntime ──────────────────────────────────────────────────────

  pick(clientIp: string, exclude: readonly Target[] | null): Target | null {
    const only = this.#only;
    if (only !== null) return only.healthy && (exclude === null || !exclude.includes(only)) ? only : null;
    this.#now = Date.now();
    this.#exclude = exclude;
    // When passive failures took every target out, trying one beats refusing (nginx does the same).
    return this.#balancer.pick(this.#targets, this.#usable, clientIp) ?? this.#balancer.pick(this.#targets, this.#notExcluded, clientIp);
  }

  readonly #usable = (t: Target): boolean => t.available(this.#now) && (this.#exclude === null || !this.#exclude.includes(t));
  readonly #notExcluded = (t: Target): boolean => t.healthy && (this.#exclude === null || !this.#exclude.includes(t));

  succeeded(target: Target): void {
    if (target.fails === 0) return;
    target.fails = 0;
    if (target.downUntil !== 0) {
      target.downUntil = 0;
      this.#logger.info({ upstream: target.address.url }, `upstream ${target} answers again; back in`);
      this.#report(target);
    }
  }

  failed(target: Target, kind: FailureKind, error: unknown, request: FailedRequest): void {
    this.#logFailure(target, kind, error, request);
    if (!isTargetFailure(kind)) return;
    target.fails++;
    if (target.fails >= this.plan.maxFails && target.downUntil <= Date.now()) {
      target.downUntil = Date.now() + this.plan.failTimeoutMs;
      this.#logger.warn(
        { upstream: target.address.url, fails: target.fails },
        `upstream ${target} failed ${target.fails} times in a row; out for ${this.plan.failTimeoutMs / 1000} s`,
      );
      this.#report(target);
    }
  }

  noTarget(ctx: RequestContext): void {
    sendError(ctx.res, 503, 'no upstream server is available right now', { headers: { 'retry-after': '5' } });
  }

  tunnelOpened(client: Duplex, upstream: Duplex): void {
    pipeTunnel(client, upstream, this.#tunnels);
  }

  // ── health ────────────────────────────────────────────────────────────

  #checked(target: Target, healthy: boolean, detail: string): void {
    if (healthy) {
      // A passing check is fresh evidence: it also ends a passive time-out.
      target.fails = 0;
      target.downUntil = 0;
    }
    if (target.healthy !== healthy) {
      target.healthy = healthy;
      if (healthy) this.#logger.info({ upstream: target.address.url }, `upstream ${target} passed its health check (${detail}); back in`);
      else this.#logger.warn({ upstream: target.address.url }, `upstream ${target} failed its health check (${detail}); taking it out`);
    }
    this.#report(target);
  }

  /** Tells the master when what this worker thinks of a target changes. */
  #report(target: Target): void {
    const healthy = target.healthy && target.downUntil <= Date.now();
    if (healthy === target.reportedHealthy) return;
    target.reportedHealthy = healthy;
    this.#env.notify('upstream-health', { route: this.#env.route.at, url: target.address.url, healthy });
  }

  /** Health checks ask for the site's own name when the Host is preserved, so apps that check Host (Django's ALLOWED_HOSTS) answer. */
  #checkHost(target: Target): string {
    if (this.plan.preserveHost) {
      const named = this.#env.site.hosts.find((h) => !h.includes('*'));
      if (named !== undefined) return named;
    }
    return target.address.host;
  }

  #logFailure(target: Target, kind: FailureKind, error: unknown, ctx: FailedRequest): void {
    const now = Date.now();
    const last = this.#lastErrorLog.get(target);
    if (last !== undefined && now - last.at < ERROR_LOG_INTERVAL_MS) {
      last.skipped++;
      return;
    }
    this.#lastErrorLog.set(target, { at: now, skipped: 0 });
    const code = (error as { code?: string }).code;
    this.#logger.warn(
      { upstream: target.address.url, kind, code, method: ctx.method, path: ctx.target, skipped: last?.skipped || undefined },
      `upstream ${target}: ${describeFailure(kind, error)} (${ctx.method} ${ctx.target})${last?.skipped ? `; ${last.skipped} more since the last message` : ''}`,
    );
  }
}

function describeFailure(kind: FailureKind, error: unknown): string {
  const code = (error as { code?: string }).code;
  const message = (error as Error).message;
  switch (kind) {
    case 'connect':
      return `cannot connect (${code})`;
    case 'connect-timeout':
      return 'connect timed out';
    case 'response-timeout':
      return 'no response headers in time';
    case 'reset':
      return `connection closed before the response (${code ?? message})`;
    case 'bad-upgrade':
      return 'answered 101 Switching Protocols to a request that did not ask to upgrade';
    case 'invalid-request':
      return `request refused by the client library: ${message}`;
    case 'other':
      return `${message}${code ? ` (${code})` : ''}`;
  }
}
