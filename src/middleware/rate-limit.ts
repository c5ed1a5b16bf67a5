/**
 * `rateLimit`: a token bucket per client address (`perSecond` refill, `burst`
 * capacity), shared by all workers: the buckets live in the master
 * (master/rate-limit.ts), asked through rate-limit-client.ts. Beyond the limit:
 * 429 with Retry-After in whole seconds, rounded up.
 *
 * IPv6 clients are counted per /64: one subscriber usually holds a whole /64,
 * so per-address buckets would let a single machine rotate around the limit.
 */
import { parseIp } from '../net/ip.ts';
import type { CompileEnv, Middleware, NodeResponse } from '../worker/context.ts';
import { sendError } from '../worker/error-response.ts';
import { rateLimitClientFor } from './rate-limit-client.ts';

export function rateLimit(plan: { perSecond: number; burst: number }, env: CompileEnv): Middleware {
  const client = rateLimitClientFor(env.ask, env.logger);
  const { perSecond, burst } = plan;
  // The route and its numbers name the buckets: a reload that changes the rate starts afresh.
  const prefix = `${env.route.at} ${perSecond}/${burst}\0`;
  return (ctx, next) => {
    const key = prefix + clientKey(ctx.clientIp);
    const known = client.knownWait(key);
    if (known > 0) {
      refuse(ctx.res, known);
      return;
    }
    return client.take(key, perSecond, burst).then((wait) => (wait === 0 ? next() : refuse(ctx.res, wait)));
  };
}

function refuse(res: NodeResponse, waitMs: number): void {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  sendError(res, 429, `too many requests; try again in ${seconds} s`, { headers: { 'retry-after': String(seconds) } });
}

/** The address as is for IPv4; its /64 for IPv6. */
export function clientKey(address: string): string {
  if (!address.includes(':')) return address;
  const ip = parseIp(address);
  if (ip === null || ip.family === 4) return address;
  let key = '';
  for (let i = 0; i < 8; i += 2) key += `${((ip.bytes[i]! << 8) | ip.bytes[i + 1]!).toString(16)}:`;
  return `${key}:/64`;
}
