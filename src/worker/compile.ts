/**
 * From the plan to the runtime request path: a host map of compiled sites, each
 * with its routes (longest prefix first), handlers and middleware chains. Built
 * once per worker; apps are imported here, so a broken app fails the worker's
 * boot, not a request.
 */
import type { ServePlan } from '../config/plan.ts';
import { createHandler } from '../handlers/index.ts';
import { compileMiddleware } from '../middleware/index.ts';
import type { Logger } from '../observe/log.ts';
import type { CompileEnv, CompiledRoute, CompiledSite, RouteHandler } from './context.ts';
import { SiteMap } from './host.ts';

export interface CompiledPlan {
  sites: SiteMap<CompiledSite>;
  handlers: RouteHandler[];
  /** No handler gives user code Node's request object: body-less requests may start ended (servers.ts). */
  endsEmptyRequests: boolean;
}

export async function compilePlan(plan: ServePlan, logger: Logger, ask: CompileEnv['ask'], notify: CompileEnv['notify']): Promise<CompiledPlan> {
  const sites = new SiteMap<CompiledSite>();
  const handlers: RouteHandler[] = [];
  for (const site of plan.sites) {
    const routes: CompiledRoute[] = [];
    for (const route of site.routes) {
      const env: CompileEnv = { plan, site, route, logger, ask, notify };
      const handler = await createHandler(route.handler, env);
      handlers.push(handler);
      const { chain, secureChain, onSecure } = await compileMiddleware(site, route.middleware, env);
      const forwards = route.handler.type === 'app' || route.handler.type === 'proxy';
      routes.push({ plan: route, prefix: route.prefix, handler, chain, secureChain, onSecure, strip: route.middleware.stripPrefix, forwards });
    }
    routes.sort((a, b) => b.prefix.length - a.prefix.length);
    const only = routes.length === 1 && routes[0]!.prefix === '/' ? routes[0]! : null;
    const compiled: CompiledSite = { plan: site, routes, onlyRoute: only };
    for (const host of site.hosts) sites.add(host, compiled);
  }
  return { sites, handlers, endsEmptyRequests: !handlers.some((handler) => handler.exposesNodeRequest === true) };
}
