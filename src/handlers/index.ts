/** Handler factories by route type. */
import type { HandlerPlan } from '../config/plan.ts';
import type { CompileEnv, RouteHandler } from '../worker/context.ts';
import { createAppHandler } from './app/index.ts';
import { createProxyHandler } from './proxy/index.ts';
import { createRedirectHandler } from './redirect.ts';
import { createRespondHandler } from './respond.ts';
import { createStaticHandler } from './static/index.ts';

export function createHandler(plan: HandlerPlan, env: CompileEnv): RouteHandler | Promise<RouteHandler> {
  switch (plan.type) {
    case 'app':
      return createAppHandler(plan, env);
    case 'static':
      return createStaticHandler(plan, env);
    case 'proxy':
      return createProxyHandler(plan, env);
    case 'redirect':
      return createRedirectHandler(plan);
    case 'respond':
      return createRespondHandler(plan);
  }
}
