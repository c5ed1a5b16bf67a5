/**
 * K025: a host firewall that is on and would drop connections to Kirin's
 * public ports. ufw first (it manages its own nftables/iptables rules, so when
 * it is active its answer is the one that counts), then nftables. A firewall
 * that is absent or off is not a finding; one we may not read (not root) is a
 * note.
 */
import { finding, type CheckId, type Finding } from './catalog.ts';
import type { AuditContext } from './context.ts';
import { nftBlockingTables, parseNftRuleset } from './nftables.ts';
import { parseUfwStatus, ufwAllows } from './ufw.ts';
import { isLoopback } from '../../net/ip.ts';

/** TCP ports Kirin serves the public on (not loopback, not the admin listener). */
export function publicPorts(ctx: AuditContext): number[] {
  if (!ctx.plan) return [];
  const ports = [...ctx.plan.listen.http, ...ctx.plan.listen.https].filter((a) => a.kind === 'tcp' && a.port > 0 && !isLoopback(a.host || '0.0.0.0')).map((a) => a.port);
  return [...new Set(ports)].sort((a, b) => a - b);
}

export async function checkFirewall(ctx: AuditContext): Promise<Finding[]> {
  return firewallFindings(ctx, { id: 'K025', ports: publicPorts(ctx), proto: 'tcp', what: 'connections', consequence: 'where Kirin listens: visitors time out' });
}

export interface FirewallQuestion {
  id: CheckId;
  ports: number[];
  proto: 'tcp' | 'udp';
  /** 'connections' (TCP) or 'datagrams' (UDP), for messages. */
  what: string;
  /** What the blocked ports are and what follows, e.g. "where Kirin listens: visitors time out". */
  consequence: string;
}

/** Whether ufw (or else nftables) lets incoming traffic reach `ports`; one finding per blocking tool or chain. */
export async function firewallFindings(ctx: AuditContext, question: FirewallQuestion): Promise<Finding[]> {
  const { id, ports, proto, what, consequence } = question;
  if (ports.length === 0) return [];

  const ufw = await ctx.run('ufw', ['status', 'verbose']);
  if (ufw !== null) {
    if (ufw.code !== 0) ctx.notes.push(`firewall: \`ufw status verbose\` failed (${firstLine(ufw.stderr || ufw.stdout)}); run kirin check as root to check ${id}`);
    else {
      const status = parseUfwStatus(ufw.stdout);
      if (status.active) {
        const blocked = ports.filter((p) => !ufwAllows(status, p, proto));
        if (blocked.length === 0) return [];
        return [
          finding(
            id,
            `ufw is active and allows no incoming ${what} to port${blocked.length === 1 ? '' : 's'} ${blocked.join(', ')}, ${consequence}`,
            `sudo ufw allow ${blocked.join(',')}/${proto}`,
            'ufw',
          ),
        ];
      }
    }
  }

  const nft = await ctx.run('nft', ['list', 'ruleset']);
  if (nft === null) return [];
  if (nft.code !== 0) {
    ctx.notes.push(`firewall: \`nft list ruleset\` failed (${firstLine(nft.stderr || nft.stdout)}); run kirin check as root to check ${id}`);
    return [];
  }
  const tables = parseNftRuleset(nft.stdout);
  const findings: Finding[] = [];
  const byChain = new Map<string, { command: string; ports: number[] }>();
  for (const port of ports) {
    for (const { table, chain } of nftBlockingTables(tables, port, proto)) {
      const key = `${table.family} ${table.name} ${chain.name}`;
      const entry = byChain.get(key) ?? { command: key, ports: [] };
      entry.ports.push(port);
      byChain.set(key, entry);
    }
  }
  for (const { command, ports: blocked } of byChain.values()) {
    const match = blocked.length === 1 ? `${proto} dport ${blocked[0]}` : `${proto} dport { ${blocked.join(', ')} }`;
    findings.push(
      finding(
        id,
        `nftables chain "${command}" drops incoming ${what} by default and accepts none to port${blocked.length === 1 ? '' : 's'} ${blocked.join(', ')}, ${consequence}`,
        `sudo nft insert rule ${command} ${match} accept — and add "${match} accept" to that chain in /etc/nftables.conf so it survives a reboot`,
        `nft: ${command}`,
      ),
    );
  }
  return findings;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.slice(0, 120) ?? '';
}
