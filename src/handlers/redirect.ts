/**
 * The `redirect` handler. `{path}` and `{query}` in the target are replaced
 * with the request's normalized path and query, so a redirect can never be
 * steered by an encoded path (`//evil.com/%2e%2e`) to another site: the path
 * it copies always starts with a single '/'.
 */
import type { RedirectHandlerPlan } from '../config/plan.ts';
import type { RouteHandler } from '../worker/context.ts';

export function createRedirectHandler(plan: RedirectHandlerPlan): RouteHandler {
  const usesPlaceholders = plan.to.includes('{path}') || plan.to.includes('{query}');
  return {
    handle(ctx) {
      const location = usesPlaceholders ? plan.to.replaceAll('{path}', ctx.encodedPath).replaceAll('{query}', ctx.query) : plan.to;
      const body = `Redirecting to ${location}\n`;
      ctx.res.writeHead(plan.status, {
        location,
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      if (ctx.method === 'HEAD') ctx.res.end();
      else ctx.res.end(body);
    },
  };
}
