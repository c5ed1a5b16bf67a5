/**
 * Reading `ufw status verbose`. Rules look like (columns padded with spaces):
 *
 *     Status: active
 *     Default: deny (incoming), allow (outgoing), disabled (routed)
 *     To                         Action      From
 *     22/tcp (OpenSSH)           ALLOW IN    Anywhere
 *     80,443/tcp (Nginx Full (v6)) ALLOW IN    Anywhere (v6)
 *     8000:8100/tcp on wg0       ALLOW IN    10.0.0.0/8       # comment
 *     Anywhere                   ALLOW IN    192.168.1.0/24
 *
 * The verbose form matters: it shows an app profile's ports, the plain one only its name.
 */

export interface UfwRule {
  /** Port ranges (inclusive), or 'any' when the rule names no port. */
  ports: [number, number][] | 'any';
  proto: 'tcp' | 'udp' | 'any';
  action: 'ALLOW' | 'DENY' | 'REJECT' | 'LIMIT';
  direction: 'IN' | 'OUT' | 'FWD';
  from: string;
}

export interface UfwStatus {
  active: boolean;
  defaultIncoming: string | null;
  rules: UfwRule[];
}

const RULE = /^(.*?)\s+(ALLOW|DENY|REJECT|LIMIT)(?:\s+(IN|OUT|FWD))?\s+(.+)$/;
const PORTS = /^(\d+(?::\d+)?(?:,\d+(?::\d+)?)*)(?:\/(tcp|udp))?$/;

export function parseUfwStatus(text: string): UfwStatus {
  const status: UfwStatus = { active: /^Status:\s*active\b/m.test(text), defaultIncoming: null, rules: [] };
  const policy = /^Default:\s*(\w+)\s*\(incoming\)/m.exec(text);
  if (policy) status.defaultIncoming = policy[1]!.toLowerCase();
  const lines = text.split(/\r?\n/);
  const header = lines.findIndex((l) => /^\s*(\[\s*\d+\]\s*)?To\s+Action\s+From\s*$/.test(l));
  if (header === -1) return status;
  for (const raw of lines.slice(header + 1)) {
    const line = raw.replace(/^\s*\[\s*\d+\]\s*/, '').replace(/\s+#.*$/, '').trim();
    if (line === '' || /^-+(\s+-+)*$/.test(line)) continue;
    const match = RULE.exec(line);
    if (!match) continue;
    const target = parseTarget(match[1]!);
    if (target === null) continue;
    status.rules.push({ ...target, action: match[2] as UfwRule['action'], direction: (match[3] ?? 'IN') as UfwRule['direction'], from: match[4]!.trim() });
  }
  return status;
}

/** "80,443/tcp (Nginx Full (v6)) on eth0", "1.2.3.4 443/tcp", "Anywhere (v6)" → ports and protocol. */
function parseTarget(text: string): Pick<UfwRule, 'ports' | 'proto'> | null {
  let rest = text.trim();
  // The app profile's name (which may hold its own "(v6)") and the family marker are labels only.
  rest = rest.replace(/\s+\((?:[^()]|\([^()]*\))*\)/g, '');
  rest = rest.replace(/\s+on\s+\S+$/, '');
  const words = rest.split(/\s+/);
  for (const word of words) {
    const ports = PORTS.exec(word);
    if (!ports) continue;
    const ranges = ports[1]!.split(',').map((part) => {
      const [a, b] = part.split(':').map(Number);
      return [a!, b ?? a!] as [number, number];
    });
    return { ports: ranges, proto: (ports[2] as 'tcp' | 'udp' | undefined) ?? 'any' };
  }
  // "Anywhere" or an address: every port. A bare app name (non-verbose output) cannot be resolved.
  if (words[0] === 'Anywhere' || /^[0-9a-f.:]+(\/\d+)?$/i.test(words[0]!)) return { ports: 'any', proto: 'any' };
  return null;
}

/** Whether incoming TCP connections (or UDP datagrams) to `port` get through. */
export function ufwAllows(status: UfwStatus, port: number, proto: 'tcp' | 'udp' = 'tcp'): boolean {
  if (!status.active || status.defaultIncoming === 'allow') return true;
  return status.rules.some(
    (r) =>
      (r.action === 'ALLOW' || r.action === 'LIMIT') &&
      r.direction === 'IN' &&
      r.proto !== (proto === 'tcp' ? 'udp' : 'tcp') &&
      (r.ports === 'any' || r.ports.some(([from, to]) => port >= from && port <= to)),
  );
}
