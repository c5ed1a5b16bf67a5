/**
 * `allow` and `deny`: IPs and CIDR ranges, v4 and v6, matched against the
 * client address after trusted-proxy resolution and canonicalization (so
 * `::ffff:10.0.0.1` is `10.0.0.1`). Deny wins over allow.
 */
import { IpMatcher } from '../net/ip.ts';
import type { Middleware } from '../worker/context.ts';
import { sendError } from '../worker/error-response.ts';

export function ipFilter(allow: readonly string[] | null, deny: readonly string[] | null): Middleware {
  const allowed = allow ? IpMatcher.compile(allow).matcher : null;
  const denied = deny ? IpMatcher.compile(deny).matcher : null;
  return (ctx, next) => {
    const client = ctx.clientIp;
    if ((denied && denied.matches(client)) || (allowed && !allowed.matches(client))) {
      sendError(ctx.res, 403, 'your address may not use this resource');
      return;
    }
    return next();
  };
}
