/**
 * K016: the admin listener (health, metrics, dashboard) must not be reachable
 * from the network without a token — neither bound to a public address nor
 * published through a site's proxy route.
 */
import { isPlainObject } from '../../config/issues.ts';
import { parseListenAddress } from '../../config/listen-address.ts';
import type { ProxyHandlerPlan } from '../../config/plan.ts';
import { isLoopback } from '../../net/ip.ts';
import { finding, type Finding } from './catalog.ts';
import type { AuditContext } from './context.ts';

const TOKEN_FIX = "set admin.token (make one with `kirin secret`) or bind the admin listener to loopback: admin: { listen: '127.0.0.1:9180' }";

/** Works from the raw config, so it reports even when the normalizer refused the config. */
export function checkAdminExposure(ctx: AuditContext): Finding[] {
  const findings: Finding[] = [];
  const raw = ctx.raw?.admin;
  const rawToken = isPlainObject(raw) ? raw.token : undefined;
  const hasToken = typeof rawToken === 'string' && rawToken.length > 0;
  if (isPlainObject(raw) && typeof raw.listen === 'string' && !hasToken) {
    const address = parseListenAddress(raw.listen, ctx.baseDir);
    if (typeof address !== 'string' && address.kind === 'tcp' && !isLoopback(address.host || '0.0.0.0')) {
      findings.push(finding('K016', `admin.listen is ${raw.listen} and there is no admin.token: anyone who reaches the port sees the dashboard and metrics`, TOKEN_FIX, 'admin.listen'));
    }
  }
  const admin = ctx.plan?.admin;
  if (ctx.plan && admin && admin.token === null && admin.listen.kind === 'tcp') {
    for (const site of ctx.plan.sites) {
      for (const route of site.routes) {
        if (route.handler.type !== 'proxy') continue;
        const target = (route.handler as ProxyHandlerPlan).to.find((url) => pointsAt(url, admin.listen.port));
        if (!target) continue;
        findings.push(finding('K016', `${route.at} proxies to ${target}, the admin listener, which has no token: the site publishes the dashboard and metrics`, TOKEN_FIX, route.at));
      }
    }
  }
  return findings;
}

function pointsAt(url: string, port: number): boolean {
  try {
    const parsed = new URL(url);
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    return Number(parsed.port) === port && (host === 'localhost' || isLoopback(host));
  } catch {
    return false;
  }
}

/** The normalizer reports the same problem as a K001 at admin.token; K016 says it better. */
export function isAdminTokenProblem(where: string | null): boolean {
  return where !== null && where.endsWith(': admin.token');
}
