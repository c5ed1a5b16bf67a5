/** `auth`: HTTP basic auth against bcrypt or argon2 hashes. (To be written.) */
import type { CompileEnv, Middleware } from '../worker/context.ts';

export async function basicAuth(_plan: { users: Record<string, string>; realm: string }, _env: CompileEnv): Promise<Middleware> {
  throw new Error('auth is not implemented yet');
}
