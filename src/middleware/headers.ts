/**
 * `headers`: set or remove request headers before the handler, and response
 * headers on the way out (whoever wrote them: app, static files or upstream).
 */
import type { HeadersPlan } from '../config/plan.ts';
import type { Middleware } from '../worker/context.ts';
import { onHeaders } from './on-headers.ts';

export function headerRules(plan: HeadersPlan): Middleware {
  const request = plan.request;
  const response = plan.response;
  return (ctx, next) => {
    if (request) {
      const headers = ctx.req.headers;
      for (const name of request.remove) delete headers[name];
      for (const name in request.set) headers[name] = request.set[name];
    }
    if (response) {
      onHeaders(ctx.res, (res) => {
        for (const name of response.remove) res.removeHeader(name);
        for (const name in response.set) res.setHeader(name, response.set[name]!);
      });
    }
    return next();
  };
}
