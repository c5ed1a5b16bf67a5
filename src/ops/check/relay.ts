/**
 * K030–K033: the relay's tunnel, on either end. On the VPS (a `relay`
 * config) the other end is `relay.to`; at home (listeners with
 * `proxyProtocol`) it is each single address in trustedProxies. For each, the
 * kernel's route must go straight to a WireGuard interface that is up (K030),
 * whose peer shook hands recently (K031); at home the PROXY listeners must
 * take headers from the relay only (K032); on the VPS the firewall must let
 * WireGuard's UDP port in (K033; TCP 80/443 are K025).
 */
import { ConfigPath } from '../../config/issues.ts';
import type { ServePlan } from '../../config/plan.ts';
import { IpMatcher, parseCidr } from '../../net/ip.ts';
import { interfaceUp, latestHandshake, readWireGuard, routeTo } from '../../relay/wireguard.ts';
import { finding, type Finding } from './catalog.ts';
import type { AuditContext } from './context.ts';
import { firewallFindings } from './firewall.ts';

/** WireGuard re-keys every 2 minutes while packets flow (PersistentKeepalive keeps them flowing): older means nothing has got through since. */
export const HANDSHAKE_MAX_AGE_S = 180;

/** The addresses at the other end of the tunnel, as this side's config names them. */
export function tunnelPeers(plan: ServePlan): string[] {
  if (plan.relay) return [plan.relay.to];
  if (!proxyListeners(plan).length) return [];
  return plan.trustedProxies.filter((entry) => {
    const range = parseCidr(entry);
    return range !== null && range.prefix === (range.family === 4 ? 32 : 128);
  });
}

function proxyListeners(plan: ServePlan) {
  return (['http', 'https'] as const).flatMap((kind) => plan.listen[kind].map((address, i) => ({ kind, i, address })).filter((l) => l.address.proxyProtocol));
}

export async function checkRelayTunnel(ctx: AuditContext): Promise<Finding[]> {
  if (!ctx.plan) return [];
  const findings: Finding[] = [];
  const side = ctx.plan.relay ? 'the home end' : 'the relay';
  const where = ctx.plan.relay ? 'relay.to' : 'trustedProxies';
  for (const peer of tunnelPeers(ctx.plan)) {
    const route = await routeTo(peer, ctx.run);
    if (route === null) {
      findings.push(finding('K030', `this machine has no route to ${peer} (${side}): the WireGuard tunnel is not up`, 'start it: sudo systemctl enable --now wg-quick@kirin0 (the interface kirin relay init named)', where));
      continue;
    }
    if (route.gateway !== null) {
      findings.push(
        finding('K030', `${peer} (${side}) is routed through ${route.dev} via ${route.gateway}, not over a tunnel: the WireGuard interface is down, so nothing is relayed`, 'start it: sudo systemctl enable --now wg-quick@kirin0 (the interface kirin relay init named)', where),
      );
      continue;
    }
    if ((await interfaceUp(route.dev, ctx.run)) === false) {
      findings.push(finding('K030', `the interface ${route.dev} that reaches ${peer} (${side}) is down`, `sudo wg-quick up ${route.dev} (or: sudo systemctl restart wg-quick@${route.dev})`, route.dev));
      continue;
    }
    const wireguard = await readWireGuard(route.dev, ctx.run);
    if (wireguard === null) {
      ctx.notes.push('relay: `wg` is not installed; install wireguard-tools to check K031 (the tunnel handshake)');
      continue;
    }
    if ('error' in wireguard) {
      ctx.notes.push(`relay: \`wg show ${route.dev}\` failed (${wireguard.error}); run kirin check as root to check K031`);
      continue;
    }
    const last = latestHandshake(wireguard, (cidr) => IpMatcher.compile([cidr]).matcher.matches(peer));
    const age = last === 0 ? Infinity : Math.round((ctx.host.now - last) / 1000);
    if (age > HANDSHAKE_MAX_AGE_S) {
      const when = last === 0 ? 'has never completed a handshake' : `last completed a handshake ${age} s ago`;
      findings.push(
        finding(
          'K031',
          `the WireGuard tunnel to ${peer} (${side}, interface ${route.dev}) ${when}: packets are not getting through`,
          ctx.plan.relay
            ? `check that home runs its tunnel (systemctl status wg-quick@kirin0 there) and that UDP ${wireguard.listenPort ?? 51820} reaches this VPS`
            : 'check the Endpoint in the WireGuard config and that the VPS lets its UDP port in (kirin check --deploy there)',
          route.dev,
        ),
      );
    }
    if (ctx.plan.relay && wireguard.listenPort !== null) {
      findings.push(
        ...(await firewallFindings(ctx, { id: 'K033', ports: [wireguard.listenPort], proto: 'udp', what: 'datagrams', consequence: "WireGuard's port: home cannot reach the relay, so nothing is relayed" })),
      );
    }
  }
  return findings;
}

/** K032: at home, a PROXY listener believes whoever it trusts about who the client is: that must be the relay alone. */
export function checkProxyTrust(ctx: AuditContext): Finding[] {
  if (!ctx.plan) return [];
  const findings: Finding[] = [];
  const listeners = proxyListeners(ctx.plan);
  if (listeners.length === 0) return [];
  for (const { kind, i, address } of listeners) {
    if (address.kind !== 'tcp' || address.host !== '') continue;
    findings.push(
      finding(
        'K032',
        `listen.${kind}[${i}] (${address.spec}) takes PROXY headers on every address of this machine: anyone who can send from a trusted address there (the LAN) can claim to be any client`,
        `bind it to the tunnel address only, e.g. { address: '10.77.0.2:${address.port}', proxyProtocol: true }`,
        new ConfigPath(['listen', kind, i]).toString(),
      ),
    );
  }
  const wide = ctx.plan.trustedProxies.filter((entry) => {
    const range = parseCidr(entry);
    return range !== null && range.prefix < (range.family === 4 ? 32 : 128);
  });
  if (wide.length > 0) {
    findings.push(
      finding(
        'K032',
        `trustedProxies has ${wide.join(', ')}: every address in ${wide.length === 1 ? 'that range' : 'those ranges'} may send PROXY headers and pick the client address that allow lists, rate limits and logs believe`,
        "trust the relay's tunnel address alone, e.g. trustedProxies: ['10.77.0.1']",
        'trustedProxies',
      ),
    );
  }
  return findings;
}
