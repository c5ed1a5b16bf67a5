/**
 * K011–K015: how the sites meet the internet — by name, over TLS, with HSTS,
 * believing forwarded headers only from real proxies.
 */
import { DEFAULT_HSTS_SECONDS, isLocalName } from '../../config/normalize-routes.ts';
import type { SitePlan } from '../../config/plan.ts';
import { parseCidr } from '../../net/ip.ts';
import { finding, type Finding } from './catalog.ts';
import type { AuditContext } from './context.ts';

const ONE_YEAR = 31_536_000;

/** A name a public DNS zone can hold: not '*', not localhost/.local/.test, not an IP address. */
export function isPublicHostName(host: string): boolean {
  if (host === '*') return false;
  if (parseCidr(host.replace(/^\[|\]$/g, '')) !== null) return false;
  return !isLocalName(host);
}

function siteAt(site: SitePlan): string {
  return `sites[${JSON.stringify(site.key)}]`;
}

export function checkHostNames(ctx: AuditContext): Finding[] {
  // A relay has no sites of its own: the names live at home (relay.names only filters).
  if (!ctx.plan || ctx.plan.relay) return [];
  const findings: Finding[] = [];
  for (const site of ctx.plan.sites) {
    if (!site.hosts.includes('*')) continue;
    findings.push(
      finding(
        'K011',
        `${siteAt(site)} answers every Host header: requests for names you do not own (scanners, DNS rebinding, Host header attacks) reach the app`,
        `name the hosts instead of '*': sites: { 'example.com, www.example.com': { … } } — Kirin then answers 421 to other names`,
        siteAt(site),
      ),
    );
  }
  const publicNames = ctx.plan.sites.flatMap((s) => s.hosts).filter(isPublicHostName);
  if (publicNames.length === 0) {
    findings.push(
      finding(
        'K012',
        'no site has a public host name: nothing can get a certificate, and production traffic arrives for names the config does not list',
        "key the site by the name(s) DNS points at this machine: sites: { 'example.com': { '/': { app: './app.ts' } } }",
        'sites',
      ),
    );
  }
  return findings;
}

export function checkTls(ctx: AuditContext): Finding[] {
  if (!ctx.plan) return [];
  const findings: Finding[] = [];
  // Behind a proxy or tunnel that terminates TLS (trustedProxies set), plain HTTP to Kirin is the design.
  const behindProxy = ctx.plan.trustedProxies.length > 0;
  const noHttpsListener = ctx.plan.listen.https.length === 0;
  for (const site of ctx.plan.sites) {
    const publicNames = site.hosts.filter(isPublicHostName);
    if (site.tls.mode === 'off' && publicNames.length > 0 && !behindProxy) {
      const fix = noHttpsListener
        ? "listen on HTTPS: listen: { http: [':80'], https: [':443'] } (sites with public names then get certificates from Let's Encrypt); behind a TLS-terminating proxy or tunnel, set trustedProxies to its address instead"
        : `remove tls: 'off' from ${siteAt(site)} (the default for public names is 'auto': a Let's Encrypt certificate)`;
      findings.push(finding('K013', `${siteAt(site)} serves ${publicNames.join(', ')} over plain HTTP: passwords, cookies and pages travel readable and changeable`, fix, `${siteAt(site)}.tls`));
    }
    if (site.tls.mode !== 'off' && site.hstsSeconds < ONE_YEAR) {
      const what = site.hstsSeconds === 0 ? 'sends no Strict-Transport-Security header' : `sets HSTS for only ${site.hstsSeconds} s`;
      findings.push(
        finding(
          'K014',
          `${siteAt(site)} ${what}: a visitor's first plain-HTTP request can be intercepted and kept on HTTP`,
          `remove hsts: false from ${siteAt(site)} (the default is ${DEFAULT_HSTS_SECONDS} s, two years), or set hsts to at least ${ONE_YEAR}`,
          `${siteAt(site)}.hsts`,
        ),
      );
    }
  }
  return findings;
}

export function checkTrustedProxies(ctx: AuditContext): Finding[] {
  const list = ctx.plan ? ctx.plan.trustedProxies : Array.isArray(ctx.raw?.trustedProxies) ? (ctx.raw.trustedProxies as unknown[]).filter((x): x is string => typeof x === 'string') : [];
  const everyone = list.filter((entry) => parseCidr(entry)?.prefix === 0);
  if (everyone.length === 0) return [];
  return [
    finding(
      'K015',
      `trustedProxies contains ${everyone.join(', ')}: any client can set X-Forwarded-For and X-Forwarded-Proto and pick its own IP address (allow lists, rate limits and logs then believe it)`,
      "list only the proxies in front of Kirin, e.g. trustedProxies: ['127.0.0.1'] for a tunnel on this machine, or your load balancer's addresses",
      'trustedProxies',
    ),
  ];
}
