/**
 * The public addresses to put in DNS, and whether the internet can reach this
 * machine at all.
 *
 *   IPv4: an interface's own public address (a VPS, a router in bridge mode),
 *         else what two echo services agree on.
 *   IPv6: the interface's stable global address — never a temporary (privacy)
 *         or deprecated one, the addresses ddclient is known to publish
 *         (ddclient #77, #424). Echo services only behind NAT66/NPTv6, and
 *         their answer is refused when it is one of our temporary addresses.
 *
 * Reachability from the IPv4 default route's interface: a public address is
 * direct; a private one is a home router's NAT (ports must be forwarded); an
 * address from RFC 6598's shared range 100.64.0.0/10 is carrier-grade NAT,
 * where no port forwarding can help.
 */
import type { DdnsPlan } from '../plan.ts';
import type { EchoClient } from './echo.ts';
import { readLocalAddresses, type InterfaceAddress, type LocalAddresses } from './interfaces.ts';
import { isPublicAddress, isSharedAddress } from './ranges.ts';

export interface FamilyDetection {
  /** The address to publish, or null when there is none (see `problem`). */
  address: string | null;
  /** Where it came from: 'interface eth0' or 'echo services api.ipify.org, v4.ident.me'. */
  source: string;
  /** Why there is no address (null when there is one). */
  problem: string | null;
}

export type ReachabilityKind = 'direct' | 'nat' | 'cgnat';

export interface Reachability {
  kind: ReachabilityKind;
  interface: string;
  localAddress: string;
  publicAddress: string | null;
  message: string;
}

export interface Detection {
  /** Null when the family is turned off in the config. */
  ipv4: FamilyDetection | null;
  ipv6: FamilyDetection | null;
  /** Null when it cannot be told (no IPv4 on the default route). */
  reachability: Reachability | null;
  at: number;
}

export const CGNAT_DOCS = 'docs/ddns.md#behind-cgnat';

export async function detectAddresses(plan: Pick<DdnsPlan, 'ipv4' | 'ipv6' | 'detect'>, echo: EchoClient, options: { signal?: AbortSignal; local?: LocalAddresses } = {}): Promise<Detection> {
  const local = options.local ?? readLocalAddresses();
  const v4Local = onDefaultInterface(local, 4);
  const [ipv4, ipv6] = await Promise.all([
    plan.ipv4 ? detectIpv4(v4Local, plan.detect.ipv4, echo, options.signal) : null,
    plan.ipv6 ? detectIpv6(local, plan.detect.ipv6, echo, options.signal) : null,
  ]);
  return { ipv4, ipv6, reachability: reachability(v4Local, ipv4), at: Date.now() };
}

async function detectIpv4(candidates: InterfaceAddress[], echoUrls: readonly string[], echo: EchoClient, signal?: AbortSignal): Promise<FamilyDetection> {
  const own = candidates.find((a) => isPublicAddress(a.address));
  if (own) return { address: own.address, source: `interface ${own.interface}`, problem: null };
  const answer = await echo.publicAddress(echoUrls, 4, signal);
  if (!answer.ok) return { address: null, source: 'echo services', problem: answer.reason };
  return { address: answer.address, source: `echo services ${answer.agreeing.map(host).join(', ')}`, problem: null };
}

async function detectIpv6(local: LocalAddresses, echoUrls: readonly string[], echo: EchoClient, signal?: AbortSignal): Promise<FamilyDetection> {
  const candidates = onDefaultInterface(local, 6);
  const global = candidates.filter((a) => isPublicAddress(a.address));
  const stable = global.filter((a) => !a.temporary && !a.deprecated && !a.tentative);
  if (stable.length > 0) {
    const chosen = stable.sort((a, b) => a.address.localeCompare(b.address))[0]!;
    return { address: chosen.address, source: `interface ${chosen.interface}`, problem: null };
  }
  if (global.length > 0) {
    const kinds = global.map((a) => `${a.address} (${a.temporary ? 'temporary' : a.deprecated ? 'deprecated' : 'tentative'})`).join(', ');
    return { address: null, source: 'interfaces', problem: `only temporary or deprecated IPv6 addresses here: ${kinds}; these change daily and must not go into DNS. Give the interface a stable address (SLAAC with addr_gen_mode eui64 or stable-privacy, or a static one)` };
  }
  if (local.defaultInterface.ipv6 === null || echoUrls.length === 0) return { address: null, source: 'interfaces', problem: 'this machine has no public IPv6 address' };
  // A default route but no global address: NAT66/NPTv6 in front. The echo services see the translated address.
  const answer = await echo.publicAddress(echoUrls, 6, signal);
  if (!answer.ok) return { address: null, source: 'echo services', problem: answer.reason };
  const ours = local.addresses.find((a) => a.address === answer.address);
  if (ours && (ours.temporary || ours.deprecated)) return { address: null, source: 'echo services', problem: `the echo services see ${answer.address}, a ${ours.temporary ? 'temporary' : 'deprecated'} address of ${ours.interface}; it must not go into DNS` };
  return { address: answer.address, source: `echo services ${answer.agreeing.map(host).join(', ')}`, problem: null };
}

/** The addresses on the default route's interface (all interfaces when there is no default route). */
function onDefaultInterface(local: LocalAddresses, family: 4 | 6): InterfaceAddress[] {
  const name = family === 4 ? local.defaultInterface.ipv4 : local.defaultInterface.ipv6;
  return local.addresses.filter((a) => a.family === family && (name === null || a.interface === name));
}

function reachability(v4Local: InterfaceAddress[], ipv4: FamilyDetection | null): Reachability | null {
  const publicAddress = ipv4?.address ?? null;
  const own = v4Local.find((a) => isPublicAddress(a.address));
  if (own) return { kind: 'direct', interface: own.interface, localAddress: own.address, publicAddress, message: `${own.interface} holds the public address ${own.address}: reachable directly (mind the firewall)` };
  const shared = v4Local.find((a) => isSharedAddress(a.address));
  if (shared) {
    const seen = publicAddress ? `, while the internet sees ${publicAddress}` : '';
    return {
      kind: 'cgnat',
      interface: shared.interface,
      localAddress: shared.address,
      publicAddress,
      message: `behind carrier-grade NAT: ${shared.interface} has ${shared.address} from the shared range 100.64.0.0/10${seen}. The provider's NAT is not yours to configure, so port forwarding cannot make this machine reachable from the internet; use a tunnel to a relay with a public address (${CGNAT_DOCS})`,
    };
  }
  const lan = v4Local[0];
  if (!lan) return null;
  const seen = publicAddress ? `the internet sees ${publicAddress} (the router's address)` : 'the router has the public address';
  return { kind: 'nat', interface: lan.interface, localAddress: lan.address, publicAddress, message: `behind a router: ${lan.interface} has the private address ${lan.address} and ${seen}; forward TCP ports 80 and 443 on the router to ${lan.address}` };
}

function host(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
