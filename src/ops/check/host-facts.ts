/**
 * Facts about the machine the audit reads once and the checks reason about.
 * Tests build these by hand (a non-root user, 2 CPUs, a unit that grants
 * CAP_NET_BIND_SERVICE) instead of depending on the machine they run on.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { findInstalledUnit, type InstalledUnit } from '../systemd/installed-unit.ts';

export interface HostFacts {
  /** The uid of the process running `kirin check` (-1 where there are no uids). */
  processUid: number;
  /** Whether that process has CAP_NET_BIND_SERVICE in its effective set. */
  processCanBindLowPorts: boolean;
  /** net.ipv4.ip_unprivileged_port_start: ports from here on need no privilege. */
  unprivilegedPortStart: number;
  cpus: number;
  memoryBytes: number;
  /** ms since the epoch, for certificate expiry. */
  now: number;
  /** The unit `kirin install` wrote for this config, when there is one. */
  unit: InstalledUnit | null;
}

const CAP_NET_BIND_SERVICE = 10n;

export function readHostFacts(configFile: string | null, unitDir: string): HostFacts {
  const capabilities = effectiveCapabilities();
  return {
    processUid: typeof process.getuid === 'function' ? process.getuid() : -1,
    processCanBindLowPorts: capabilities !== null && ((capabilities >> CAP_NET_BIND_SERVICE) & 1n) === 1n,
    unprivilegedPortStart: readNumber('/proc/sys/net/ipv4/ip_unprivileged_port_start') ?? 1024,
    cpus: availableParallelism(),
    memoryBytes: totalmem(),
    now: Date.now(),
    unit: findInstalledUnit(unitDir, configFile),
  };
}

/** CapEff from /proc/self/status, or null off Linux. */
function effectiveCapabilities(): bigint | null {
  try {
    const match = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? BigInt(`0x${match[1]}`) : null;
  } catch {
    return null;
  }
}

function readNumber(file: string): number | null {
  try {
    const value = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(value) ? value : null;
  } catch {
    return null;
  }
}
