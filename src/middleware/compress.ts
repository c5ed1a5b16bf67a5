/** `compress`: br/gzip for compressible dynamic responses. (To be written.) */
import type { Middleware } from '../worker/context.ts';

export function compress(_plan: { types: string[]; minSize: number }): Middleware {
  throw new Error('compress is not implemented yet');
}
