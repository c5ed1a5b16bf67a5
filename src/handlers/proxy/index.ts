/** The `proxy` handler. (To be written.) */
import type { ProxyHandlerPlan } from '../../config/plan.ts';
import type { CompileEnv, RouteHandler } from '../../worker/context.ts';

export function createProxyHandler(_plan: ProxyHandlerPlan, _env: CompileEnv): RouteHandler {
  throw new Error('proxy is not implemented yet');
}
