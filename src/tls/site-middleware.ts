/**
 * What a TLS site does before anything else on each request (first in the
 * route's chain, so a password prompt or a rate limit never runs over plain
 * HTTP):
 *
 *   over TLS (or TLS ended at a trusted proxy)  add Strict-Transport-Security, go on
 *   plain HTTP, ACME challenge path              answer it, or go on (never redirected)
 *   plain HTTP, certificate not here yet         503 "the certificate is on its way"
 *   plain HTTP                                   308 to the same URL over https
 *
 * TLS is judged by the connection (`ctx.secure`), or by X-Forwarded-Proto only
 * when a trusted proxy sent it (`ctx.scheme`), never by a client's say-so.
 */
import type { HeadersPlan, MiddlewarePlan, ServePlan, SitePlan } from '../config/plan.ts';
import type { Middleware, Next, NodeResponse, RequestContext } from '../worker/context.ts';
import { sendError } from '../worker/error-response.ts';
import { HSTS, kHsts, type HstsResponse } from './hsts.ts';
import { ACME_CHALLENGE_PREFIX, workerTls, type WorkerTls } from './worker-tls.ts';

/**
 * A TLS site's step, in two forms: the middleware, and what it does on a TLS
 * connection (`onSecure`: add HSTS) — which the request path calls directly
 * there, without the middleware or a chain (worker/pipeline.ts): one function
 * call instead of a chain step and a closure per request.
 */
export interface HttpsSiteStep {
  readonly middleware: Middleware;
  /** Marks a response of a TLS connection with HSTS; null when the site sends none. */
  readonly onSecure: ((res: NodeResponse) => void) | null;
}

export function httpsSiteStep(site: SitePlan, route: MiddlewarePlan | null, plan: ServePlan, tls: WorkerTls = workerTls): HttpsSiteStep | null {
  // Without an https listener (systemd passed only plain sockets) there is nothing to redirect to.
  if (site.tls.mode === 'off' || plan.listen.https.length === 0) return null;
  const hsts = site.hstsSeconds > 0 ? `max-age=${site.hstsSeconds}` : null;
  // Header rules that set or remove it apply when the head is written: give them a header to work on.
  const rulesTouchHsts = touchesHsts(site.headers) || touchesHsts(route?.headers ?? null);
  const onSecure =
    hsts === null
      ? null
      : (res: NodeResponse) => {
          // The https listeners' responses add it as their head is written (tls/responses.ts); others get it now.
          if (!rulesTouchHsts && kHsts in res) (res as unknown as HstsResponse)[kHsts] = hsts;
          else res.setHeader(HSTS, hsts);
        };
  const middleware: Middleware = (ctx, next) => {
    if (ctx.secure || ctx.scheme === 'https') {
      if (onSecure !== null) onSecure(ctx.res);
      return next();
    }
    // A worker's first requests may come before the master's certificates: wait for them (a few ms at boot).
    if (!tls.isReady) return tls.ready.then(() => overPlainHttp(ctx, next, tls));
    return overPlainHttp(ctx, next, tls);
  };
  return { middleware, onSecure };
}

function overPlainHttp(ctx: RequestContext, next: Next, tls: WorkerTls): void | Promise<void> {
  if (ctx.path.startsWith(ACME_CHALLENGE_PREFIX)) {
    if (tls.answerHttpChallenge(ctx.req, ctx.res)) return;
    return next();
  }
  if (!tls.certificates.has(ctx.host)) {
    sendError(ctx.res, 503, `the HTTPS certificate for ${ctx.host} is on its way; this site moves to https:// as soon as it arrives, try again in a minute`, {
      headers: { 'retry-after': '60' },
    });
    return;
  }
  const port = tls.httpsPort === null || tls.httpsPort === 443 ? '' : `:${tls.httpsPort}`;
  const location = `https://${ctx.host}${port}${ctx.encodedPath}${ctx.query}`;
  const body = `Moved to ${location}\n`;
  ctx.res.writeHead(308, { location, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  ctx.res.end(ctx.method === 'HEAD' ? undefined : body);
}

function touchesHsts(headers: HeadersPlan | null): boolean {
  const rules = headers?.response;
  return rules != null && (HSTS in rules.set || rules.remove.includes(HSTS));
}
