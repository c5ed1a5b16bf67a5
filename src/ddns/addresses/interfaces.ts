/**
 * The machine's own addresses, with what Node's os.networkInterfaces() leaves
 * out: which IPv6 addresses are temporary (RFC 8981 privacy addresses, which
 * change every day and must never go into DNS), deprecated or still tentative,
 * and which interface carries the default route. Linux keeps these in /proc
 * (per network namespace); elsewhere only what Node tells is known.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { canonicalIp } from '../../net/ip.ts';

export interface InterfaceAddress {
  interface: string;
  address: string;
  family: 4 | 6;
  /** A privacy address (IFA_F_TEMPORARY). */
  temporary: boolean;
  /** Its preferred lifetime is over (IFA_F_DEPRECATED): on its way out. */
  deprecated: boolean;
  /** Duplicate address detection has not finished, or failed. */
  tentative: boolean;
}

export interface LocalAddresses {
  addresses: InterfaceAddress[];
  /** The interfaces of the default routes, when known. */
  defaultInterface: { ipv4: string | null; ipv6: string | null };
}

// include/uapi/linux/if_addr.h
const IFA_F_TEMPORARY = 0x01;
const IFA_F_DADFAILED = 0x08;
const IFA_F_DEPRECATED = 0x20;
const IFA_F_TENTATIVE = 0x40;

export function readLocalAddresses(): LocalAddresses {
  const addresses: InterfaceAddress[] = [];
  const flagged = readIfInet6();
  for (const [name, list] of Object.entries(networkInterfaces())) {
    for (const entry of list ?? []) {
      if (entry.internal) continue;
      if (entry.family === 'IPv4') addresses.push({ interface: name, address: entry.address, family: 4, temporary: false, deprecated: false, tentative: false });
      else if (flagged === null) addresses.push({ interface: name, address: canonicalIp(entry.address) ?? entry.address, family: 6, temporary: false, deprecated: false, tentative: false });
    }
  }
  if (flagged) addresses.push(...flagged.filter((a) => a.interface !== 'lo'));
  return { addresses, defaultInterface: { ipv4: defaultRouteV4(), ipv6: defaultRouteV6() } };
}

/** /proc/net/if_inet6: "20010db8000000000000000000000001 02 40 00 80 eth0" (address, index, prefix, scope, flags, name). */
function readIfInet6(): InterfaceAddress[] | null {
  const text = readProcFile('/proc/net/if_inet6');
  if (text === null) return null;
  const out: InterfaceAddress[] = [];
  for (const line of text.split('\n')) {
    const [hex, , , , flagsHex, name] = line.trim().split(/\s+/);
    if (!hex || hex.length !== 32 || !flagsHex || !name) continue;
    const flags = Number.parseInt(flagsHex, 16);
    const address = canonicalIp(hex.match(/.{4}/g)!.join(':'));
    if (!address) continue;
    out.push({
      interface: name,
      address,
      family: 6,
      temporary: (flags & IFA_F_TEMPORARY) !== 0,
      deprecated: (flags & IFA_F_DEPRECATED) !== 0,
      tentative: (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) !== 0,
    });
  }
  return out;
}

/** /proc/net/route: the line whose destination and mask are 00000000. */
function defaultRouteV4(): string | null {
  const text = readProcFile('/proc/net/route');
  for (const line of text?.split('\n').slice(1) ?? []) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === '00000000' && fields[7] === '00000000') return fields[0] ?? null;
  }
  return null;
}

/** /proc/net/ipv6_route: destination ::/0, device in the last column (not the loopback "unreachable" entry). */
function defaultRouteV6(): string | null {
  const text = readProcFile('/proc/net/ipv6_route');
  for (const line of text?.split('\n') ?? []) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === '0'.repeat(32) && fields[1] === '00' && fields[9] !== 'lo') return fields[9] ?? null;
  }
  return null;
}

function readProcFile(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
