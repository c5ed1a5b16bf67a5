/**
 * The `respond` handler: a fixed status, body and headers (maintenance pages,
 * robots.txt, health answers). The response head is built once.
 */
import type { RespondHandlerPlan } from '../config/plan.ts';
import type { RouteHandler } from '../worker/context.ts';

export function createRespondHandler(plan: RespondHandlerPlan): RouteHandler {
  const body = Buffer.from(plan.body);
  const headers: string[] = [];
  for (const [name, value] of Object.entries(plan.headers)) headers.push(name, value);
  if (plan.headers['content-type'] === undefined && body.length > 0) headers.push('content-type', 'text/plain; charset=utf-8');
  headers.push('content-length', String(body.length));
  return {
    handle(ctx) {
      ctx.res.writeHead(plan.status, headers as never);
      if (ctx.method === 'HEAD') ctx.res.end();
      else ctx.res.end(body);
    },
  };
}
