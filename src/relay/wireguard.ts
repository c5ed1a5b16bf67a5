/**
 * What the system's WireGuard tools say about the tunnel to the other end:
 * which interface routes to an address (`ip -j route get`), and when its peer
 * last completed a handshake (`wg show IFACE latest-handshakes`). Reading
 * WireGuard state needs root or CAP_NET_ADMIN; without them the answers are
 * null and callers say so rather than guess.
 */
import type { CommandRunner } from '../ops/command-runner.ts';

export interface Route {
  /** The interface the address is sent through. */
  dev: string;
  /** Set when the route leaves through a gateway: the address is not on a tunnel. */
  gateway: string | null;
}

/** The route the kernel would use for `address`, or null when none (or `ip` is missing). */
export async function routeTo(address: string, run: CommandRunner): Promise<Route | null> {
  const result = await run('ip', ['-j', 'route', 'get', address]);
  if (result === null || result.code !== 0) return null;
  try {
    const [route] = JSON.parse(result.stdout) as { dev?: string; gateway?: string }[];
    return route?.dev ? { dev: route.dev, gateway: route.gateway ?? null } : null;
  } catch {
    return null;
  }
}

/** Whether the interface is administratively up, or null when it does not exist. */
export async function interfaceUp(dev: string, run: CommandRunner): Promise<boolean | null> {
  const result = await run('ip', ['-j', 'link', 'show', 'dev', dev]);
  if (result === null || result.code !== 0) return null;
  try {
    const [link] = JSON.parse(result.stdout) as { flags?: string[] }[];
    return link?.flags?.includes('UP') ?? null;
  } catch {
    return null;
  }
}

export interface WireGuardPeers {
  /** Per peer public key: the last handshake (ms since the epoch, 0 for never). */
  handshakes: Map<string, number>;
  /** Per peer public key: its allowed IPs (CIDR text). */
  allowedIps: Map<string, string[]>;
  listenPort: number | null;
}

/**
 * `wg show DEV latest-handshakes | allowed-ips | listen-port` (never `dump`,
 * which prints the private key). Null when `wg` is not installed; an error
 * when the interface is not WireGuard or we may not read it.
 */
export async function readWireGuard(dev: string, run: CommandRunner): Promise<WireGuardPeers | { error: string } | null> {
  const [handshakes, allowed, port] = await Promise.all(['latest-handshakes', 'allowed-ips', 'listen-port'].map((what) => run('wg', ['show', dev, what])));
  if (handshakes === null || allowed === null || port === null) return null;
  for (const result of [handshakes, allowed, port]) {
    if (result.code !== 0) return { error: (result.stderr || result.stdout).trim().split('\n')[0] || `wg exited with ${result.code}` };
  }
  return parseWgShow(handshakes.stdout, allowed.stdout, port.stdout);
}

/** Each of the first two is "public-key<TAB>value" per peer (allowed IPs space-separated, handshakes in seconds). */
export function parseWgShow(handshakesText: string, allowedText: string, portText: string): WireGuardPeers {
  const handshakes = new Map<string, number>();
  const allowedIps = new Map<string, string[]>();
  for (const line of handshakesText.trim().split('\n')) {
    const [key, seconds] = line.split('\t');
    if (key && seconds !== undefined) handshakes.set(key, Number(seconds) * 1000 || 0);
  }
  for (const line of allowedText.trim().split('\n')) {
    const [key, list] = line.split('\t');
    if (key && list !== undefined) allowedIps.set(key, list === '(none)' ? [] : list.trim().split(/\s+/).filter(Boolean));
  }
  const port = Number(portText.trim());
  return { handshakes, allowedIps, listenPort: Number.isInteger(port) && port > 0 ? port : null };
}

/** The latest handshake among the peers whose allowed IPs hold `address`, or the latest of all when none matches. */
export function latestHandshake(peers: WireGuardPeers, matches: (cidr: string) => boolean): number {
  let latest = 0;
  let latestAny = 0;
  for (const [key, at] of peers.handshakes) {
    latestAny = Math.max(latestAny, at);
    if ((peers.allowedIps.get(key) ?? []).some(matches)) latest = Math.max(latest, at);
  }
  return latest || latestAny;
}
