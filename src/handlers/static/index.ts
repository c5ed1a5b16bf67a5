/** The `static` handler. (To be written.) */
import type { StaticHandlerPlan } from '../../config/plan.ts';
import type { CompileEnv, RouteHandler } from '../../worker/context.ts';

export function createStaticHandler(_plan: StaticHandlerPlan, _env: CompileEnv): RouteHandler {
  throw new Error('static is not implemented yet');
}
