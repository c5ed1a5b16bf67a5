/**
 * Compiles a route's middleware into the chain that runs before its handler.
 * Order: who may ask (deny/allow, rate limit, auth), then what the answer
 * looks like (headers, compression). The rate limit comes before auth, as
 * nginx's limit_req comes before auth_basic: a password guesser is slowed down
 * before each guess costs a bcrypt/argon2 verification. The body limit is
 * checked by the request path itself for every route (worker/pipeline.ts).
 * A route with nothing to do gets `null`, and requests skip the chain.
 */
import type { MiddlewarePlan, SitePlan } from '../config/plan.ts';
import type { CompileEnv, Middleware } from '../worker/context.ts';
import { basicAuth } from './basic-auth.ts';
import { compress } from './compress.ts';
import { headerRules } from './headers.ts';
import { ipFilter } from './ip-filter.ts';
import { rateLimit } from './rate-limit.ts';
import { httpsSiteMiddleware } from '../tls/site-middleware.ts';

export async function compileMiddleware(site: SitePlan, plan: MiddlewarePlan, env: CompileEnv): Promise<Middleware[] | null> {
  const chain: Middleware[] = [];
  // TLS sites first: redirect plain HTTP before anything asks for a password over it; add HSTS (tls/site-middleware.ts).
  const https = httpsSiteMiddleware(site);
  if (https) chain.push(https);
  if (plan.allow || plan.deny) chain.push(ipFilter(plan.allow, plan.deny));
  if (plan.rateLimit) chain.push(rateLimit(plan.rateLimit, env));
  if (plan.auth) chain.push(await basicAuth(plan.auth, env));
  if (site.headers) chain.push(headerRules(site.headers));
  if (plan.headers) chain.push(headerRules(plan.headers));
  if (plan.compress) chain.push(compress(plan.compress));
  return chain.length > 0 ? chain : null;
}

/** Runs `chain` then `last`; each step decides whether to call the next. */
export function runChain(chain: readonly Middleware[], ctx: Parameters<Middleware>[0], last: () => void | Promise<void>): void | Promise<void> {
  const step = (i: number): void | Promise<void> => (i === chain.length ? last() : chain[i]!(ctx, () => step(i + 1)));
  return step(0);
}
