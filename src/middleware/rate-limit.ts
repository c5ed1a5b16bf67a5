/** `rateLimit`: per client IP, shared across workers. (To be written.) */
import type { CompileEnv, Middleware } from '../worker/context.ts';

export function rateLimit(_plan: { perSecond: number; burst: number }, _env: CompileEnv): Middleware {
  throw new Error('rateLimit is not implemented yet');
}
