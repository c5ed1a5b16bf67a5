/**
 * Handler factories by route type. Each kind is imported only when a route
 * uses it: a worker that serves one app does not carry the proxy's connection
 * pools or the static handler's caches in memory.
 */
import type { HandlerPlan } from '../config/plan.ts';
import type { CompileEnv, RouteHandler } from '../worker/context.ts';

export async function createHandler(plan: HandlerPlan, env: CompileEnv): Promise<RouteHandler> {
  switch (plan.type) {
    case 'app':
      return (await import('./app/index.ts')).createAppHandler(plan, env);
    case 'static':
      return (await import('./static/index.ts')).createStaticHandler(plan, env);
    case 'proxy':
      return (await import('./proxy/index.ts')).createProxyHandler(plan, env);
    case 'redirect':
      return (await import('./redirect.ts')).createRedirectHandler(plan);
    case 'respond':
      return (await import('./respond.ts')).createRespondHandler(plan);
  }
}
