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
import type { Middleware, Next, RequestContext } from '../worker/context.ts';
import { sendError } from '../worker/error-response.ts';
import { HSTS, kHsts, type HstsResponse } from './responses.ts';
import { ACME_CHALLENGE_PREFIX, workerTls, type WorkerTls } from './worker-tls.ts';

export function httpsSiteMiddleware(site: SitePlan, route: MiddlewarePlan | null, plan: ServePlan, tls: WorkerTls = workerTls): Middleware | null {
  // Without an https listener (systemd passed only plain sockets) there is nothing to redirect to.
  if (site.tls.mode === 'off' || plan.listen.https.length === 0) return null;
  const hsts = site.hstsSeconds > 0 ? `max-age=${site.hstsSeconds}` : null;
  // Header rules that set or remove it apply when the head is written: give them a header to work on.
  const rulesTouchHsts = touchesHsts(site.headers) || touchesHsts(route?.headers ?? null);
  return (ctx, next) => {
    if (ctx.secure || ctx.scheme === 'https') {
      if (hsts !== null) {
        // The https listeners' responses add it as their head is written (tls/responses.ts); others get it now.
        if (!rulesTouchHsts && kHsts in ctx.res) (ctx.res as unknown as HstsResponse)[kHsts] = hsts;
        else ctx.res.setHeader(HSTS, hsts);
      }
      return next();
    }
    // A worker's first requests may come before the master's certificates: wait for them (a few ms at boot).
    if (!tls.isReady) return tls.ready.then(() => overPlainHttp(ctx, next, tls));
    return overPlainHttp(ctx, next, tls);
  };
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
