/**
 * Compiles a route's middleware into the chain that runs before its handler.
 * Order: who may ask (deny/allow, rate limit, auth), then what the answer
 * looks like (headers, compression). The rate limit comes before auth, as
 * nginx's limit_req comes before auth_basic: a password guesser is slowed down
 * before each guess costs a bcrypt/argon2 verification. The body limit is
 * checked by the request path itself for every route (worker/pipeline.ts).
 * A route with nothing to do gets `null`, and requests skip the chain.
 * Middleware with heavy dependencies (password hashing, zlib streams) is
 * imported only when a route uses it.
 */
import type { MiddlewarePlan, SitePlan } from '../config/plan.ts';
import type { CompileEnv, Middleware, NodeResponse } from '../worker/context.ts';
import { headerRules } from './headers.ts';
import { ipFilter } from './ip-filter.ts';
import { httpsSiteStep } from '../tls/site-middleware.ts';

export interface CompiledChains {
  /** The route's middleware in order, or null when there is none. */
  chain: Middleware[] | null;
  /** What requests on TLS connections run: the chain without the TLS site's step, which `onSecure` stands for. */
  secureChain: Middleware[] | null;
  /** The TLS site's step on a TLS connection (HSTS), called before `secureChain`; null when it does nothing. */
  onSecure: ((res: NodeResponse) => void) | null;
}

export async function compileMiddleware(site: SitePlan, plan: MiddlewarePlan, env: CompileEnv): Promise<CompiledChains> {
  const chain: Middleware[] = [];
  // TLS sites first: redirect plain HTTP before anything asks for a password over it; add HSTS (tls/site-middleware.ts).
  const https = httpsSiteStep(site, plan, env.plan);
  if (plan.allow || plan.deny) chain.push(ipFilter(plan.allow, plan.deny));
  if (plan.rateLimit) chain.push((await import('./rate-limit.ts')).rateLimit(plan.rateLimit, env));
  if (plan.auth) chain.push(await (await import('./basic-auth.ts')).basicAuth(plan.auth, env));
  if (site.headers) chain.push(headerRules(site.headers));
  if (plan.headers) chain.push(headerRules(plan.headers));
  if (plan.compress) chain.push((await import('./compress.ts')).compress(plan.compress));
  const nonEmpty = (list: Middleware[]) => (list.length > 0 ? list : null);
  if (https === null) return { chain: nonEmpty(chain), secureChain: nonEmpty(chain), onSecure: null };
  return { chain: [https.middleware, ...chain], secureChain: nonEmpty(chain), onSecure: https.onSecure };
}

/** Runs `chain` then `last`; each step decides whether to call the next. */
export function runChain(chain: readonly Middleware[], ctx: Parameters<Middleware>[0], last: () => void | Promise<void>): void | Promise<void> {
  // A chain of one step (a TLS site's redirect on plain HTTP, one guard): no closures for it.
  if (chain.length === 1) return chain[0]!(ctx, last);
  const step = (i: number): void | Promise<void> => (i === chain.length ? last() : chain[i]!(ctx, () => step(i + 1)));
  return step(0);
}
