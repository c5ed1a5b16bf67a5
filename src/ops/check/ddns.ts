/**
 * K026, K027 (with --deploy, when the config has a `ddns` section): asks the
 * echo services for this machine's public address, as the DDNS client would,
 * then
 *
 *   K026  each DDNS name's A/AAAA records must hold that address (asked of the
 *         RFC 2136 server itself, which has no cache; otherwise of this
 *         machine's resolver);
 *   K027  the default route's interface holds an address from 100.64.0.0/10:
 *         carrier-grade NAT, where port forwarding cannot reach this machine.
 */
import { lookup, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { detectAddresses } from '../../ddns/addresses/detect.ts';
import { EchoClient } from '../../ddns/addresses/echo.ts';
import type { DdnsPlan } from '../../ddns/plan.ts';
import { finding, type Finding } from './catalog.ts';
import type { AuditContext } from './context.ts';

export async function checkDdns(ctx: AuditContext): Promise<Finding[]> {
  const ddns = ctx.plan?.ddns;
  if (!ddns || !ctx.deploy) return [];
  const echo = new EchoClient();
  let detection;
  try {
    detection = await detectAddresses(ddns, echo);
  } finally {
    echo.close();
  }
  const findings: Finding[] = [];
  if (detection.reachability?.kind === 'cgnat') {
    findings.push(finding('K027', detection.reachability.message, 'ask the provider for a public IPv4 address (often free or cheap), or reach this machine through a relay with a public address (docs/ddns.md#behind-cgnat)', `interface ${detection.reachability.interface}`));
  }
  const resolver = await resolverFor(ddns);
  for (const [type, found] of [['A', detection.ipv4], ['AAAA', detection.ipv6]] as const) {
    if (!found) continue;
    if (!found.address) {
      ctx.notes.push(`ddns: no public ${type === 'A' ? 'IPv4' : 'IPv6'} address to compare the ${type} records with: ${found.problem}`);
      continue;
    }
    for (const name of ddns.names) {
      const records = await resolve(resolver, name, type);
      if (records === null) {
        ctx.notes.push(`ddns: could not look up ${name} ${type}`);
        continue;
      }
      if (records.includes(found.address)) continue;
      const has = records.length > 0 ? `has ${type} ${records.join(', ')}` : `has no ${type} record`;
      findings.push(
        finding(
          'K026',
          `${name} ${has}, but this machine's public ${type === 'A' ? 'IPv4' : 'IPv6'} address is ${found.address} (from ${found.source}): visitors ${records.length > 0 ? 'reach another machine' : 'cannot find it'}`,
          'start Kirin (it updates the names through the ddns provider) or run kirin ddns update --once, then check kirin ddns status for the provider\'s answer',
          `ddns.names: ${name}`,
        ),
      );
    }
  }
  return findings;
}

/** The RFC 2136 server itself when there is one (the truth, no cache); else this machine's resolver. */
async function resolverFor(ddns: DdnsPlan): Promise<Resolver> {
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  if (ddns.provider.kind === 'rfc2136') {
    const { host, port } = ddns.provider;
    const address = isIP(host) ? host : (await lookup(host).catch(() => null))?.address;
    if (address) resolver.setServers([isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`]);
  }
  return resolver;
}

async function resolve(resolver: Resolver, name: string, type: 'A' | 'AAAA'): Promise<string[] | null> {
  try {
    return type === 'A' ? await resolver.resolve4(name) : await resolver.resolve6(name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENODATA' || code === 'ENOTFOUND' ? [] : null;
  }
}
