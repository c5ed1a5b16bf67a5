/**
 * `kirin relay init`: everything the two ends need, made at home in one go —
 * a WireGuard key pair per end, the two wg-quick configs, the VPS's Kirin
 * config, and the keys to add to the home config. Nothing is sent anywhere:
 * the files are written to a folder (0700; the WireGuard configs, which hold
 * private keys, 0600) and the CLI prints what to run on each machine.
 *
 * Keys come from node:crypto's X25519, the curve WireGuard uses: `wg genkey`
 * and `wg pubkey` make the same 32-byte keys, base64-encoded (the tests check
 * ours with `wg pubkey`), so the machine running init needs no WireGuard tools.
 */
import { generateKeyPairSync } from 'node:crypto';
import { parseCidr, formatIp } from '../net/ip.ts';

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

export function generateWireGuardKeys(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const d = privateKey.export({ format: 'jwk' }).d!;
  const x = publicKey.export({ format: 'jwk' }).x!;
  return { privateKey: Buffer.from(d, 'base64url').toString('base64'), publicKey: Buffer.from(x, 'base64url').toString('base64') };
}

export interface RelayInitOptions {
  /** The VPS's public name or address, as the home end dials it. */
  vps: string;
  /** The tunnel's private range: the VPS takes its first address, home the second. */
  subnet: string;
  /** WireGuard's UDP port on the VPS. */
  port: number;
  /** Interface name on both machines (wg-quick names it after the file). */
  interfaceName: string;
  /** Names the relay forwards, or null for every name. */
  names: string[] | null;
  /** Public ports relayed. */
  ports: number[];
}

export interface RelayFiles {
  vpsAddress: string;
  homeAddress: string;
  prefix: number;
  /** Relative path → content; `secret` files are written 0600. */
  files: { path: string; content: string; secret: boolean }[];
  /** The keys to add to the home config. */
  homeConfig: { trustedProxies: string[]; listen: { http: { address: string; proxyProtocol: true }[]; https: { address: string; proxyProtocol: true }[] } };
}

/** The two tunnel addresses of an IPv4 subnet (/30 or larger), or a message saying what is wrong. */
export function tunnelAddresses(subnet: string): { vps: string; home: string; prefix: number } | string {
  const range = parseCidr(subnet);
  if (range === null || !subnet.includes('/')) return `expected a private IPv4 range like 10.77.0.0/24, got "${subnet}"`;
  if (range.family !== 4) return `expected an IPv4 range (WireGuard carries IPv6 too, but the relay's tunnel needs only two addresses), got "${subnet}"`;
  if (range.prefix > 30) return `"${subnet}" is too small: the tunnel needs two addresses (use /30 or larger)`;
  const at = (n: number) => {
    const bytes = range.bytes.slice();
    bytes[3] = bytes[3]! + n;
    return formatIp({ family: 4, bytes });
  };
  return { vps: at(1), home: at(2), prefix: range.prefix };
}

export function renderRelayFiles(options: RelayInitOptions, vpsKeys: KeyPair, homeKeys: KeyPair): RelayFiles {
  const tunnel = tunnelAddresses(options.subnet);
  if (typeof tunnel === 'string') throw new TypeError(tunnel);
  const { vps, home, prefix } = tunnel;
  const endpointHost = options.vps.includes(':') && !options.vps.startsWith('[') ? `[${options.vps}]` : options.vps;
  const name = options.interfaceName;
  const vpsWg = [
    `# WireGuard on the VPS (${options.vps}): the relay's end of the tunnel to home.`,
    `# Install: sudo install -m 600 ${name}.conf /etc/wireguard/${name}.conf && sudo systemctl enable --now wg-quick@${name}`,
    '[Interface]',
    `PrivateKey = ${vpsKeys.privateKey}`,
    `Address = ${vps}/${prefix}`,
    `ListenPort = ${options.port}`,
    '',
    '[Peer]',
    '# Home: it dials in (it may sit behind CGNAT), so there is no Endpoint here.',
    `PublicKey = ${homeKeys.publicKey}`,
    `AllowedIPs = ${home}/32`,
    '',
  ].join('\n');
  const homeWg = [
    `# WireGuard at home: the tunnel to the relay on ${options.vps}.`,
    `# Install: sudo install -m 600 ${name}.conf /etc/wireguard/${name}.conf && sudo systemctl enable --now wg-quick@${name}`,
    '[Interface]',
    `PrivateKey = ${homeKeys.privateKey}`,
    `Address = ${home}/${prefix}`,
    '',
    '[Peer]',
    `PublicKey = ${vpsKeys.publicKey}`,
    `Endpoint = ${endpointHost}:${options.port}`,
    `AllowedIPs = ${vps}/32`,
    '# Keeps the NAT mapping open, so the relay can reach home at any time.',
    'PersistentKeepalive = 25',
    '',
  ].join('\n');
  const relayConfig = {
    relay: { to: home, listen: options.ports.map((p) => `:${p}`), ...(options.names ? { names: options.names } : {}) },
  };
  const homeConfig: RelayFiles['homeConfig'] = {
    trustedProxies: [vps],
    listen: {
      http: options.ports.filter((p) => p !== 443).map((p) => ({ address: `${home}:${p}`, proxyProtocol: true as const })),
      https: options.ports.filter((p) => p === 443).map((p) => ({ address: `${home}:${p}`, proxyProtocol: true as const })),
    },
  };
  return {
    vpsAddress: vps,
    homeAddress: home,
    prefix,
    homeConfig,
    files: [
      { path: `vps/${name}.conf`, content: vpsWg, secret: true },
      { path: 'vps/kirin.config.json', content: `${JSON.stringify(relayConfig, null, 2)}\n`, secret: false },
      { path: `home/${name}.conf`, content: homeWg, secret: true },
      { path: 'home/kirin.relay.json', content: `${JSON.stringify(homeConfig, null, 2)}\n`, secret: false },
    ],
  };
}
