/**
 * K019–K022: the process — who it runs as, whether it may bind its ports, and
 * whether the worker count fits the machine.
 */
import type { ListenAddress } from '../../config/plan.ts';
import { finding, type Finding } from './catalog.ts';
import type { AuditContext } from './context.ts';

/** What one idle-ish Node worker with an app costs; Kirin's own measurements put hello-world at ~66 MB. */
export const WORKER_MEMORY_BYTES = 70 * 1024 * 1024;
/** More workers than this many per CPU only adds memory and context switches. */
const WORKERS_PER_CPU = 2;

interface ServiceUser {
  isRoot: boolean;
  /** For messages: "User=kirin in /etc/systemd/system/kirin.service" or "this shell (uid 1000)". */
  described: string;
  canBindLowPorts: boolean;
}

function serviceUser(ctx: AuditContext): ServiceUser {
  const unit = ctx.host.unit;
  if (unit) {
    const isRoot = unit.user === null || unit.user === 'root' || unit.user === '0';
    return {
      isRoot,
      described: unit.user === null ? `${unit.path} (no User=, so root)` : `User=${unit.user} in ${unit.path}`,
      canBindLowPorts: isRoot || unit.ambientCapabilities.includes('CAP_NET_BIND_SERVICE'),
    };
  }
  const isRoot = ctx.host.processUid === 0;
  return { isRoot, described: `this shell (uid ${ctx.host.processUid})`, canBindLowPorts: isRoot || ctx.host.processCanBindLowPorts };
}

export function checkRoot(ctx: AuditContext): Finding[] {
  const user = serviceUser(ctx);
  if (!user.isRoot) return [];
  return [
    finding(
      'K019',
      `Kirin would run as root (${user.described}): a hole in the app or a dependency then owns the machine. Nothing in Kirin needs root — ports below 1024 need only CAP_NET_BIND_SERVICE`,
      'run it as its own user: sudo kirin install --user kirin --create-user (the unit grants the port capability and nothing else)',
      ctx.host.unit?.path ?? null,
    ),
  ];
}

function tcpAddresses(ctx: AuditContext): ListenAddress[] {
  if (!ctx.plan) return [];
  return [...ctx.plan.listen.http, ...ctx.plan.listen.https, ...(ctx.plan.admin ? [ctx.plan.admin.listen] : [])].filter((a) => a.kind === 'tcp');
}

export function checkPrivilegedPorts(ctx: AuditContext): Finding[] {
  if (ctx.host.unit?.socketActivated) return []; // systemd binds the sockets and hands them over.
  const low = [...new Set(tcpAddresses(ctx).map((a) => a.port))].filter((p) => p > 0 && p < 1024 && p < ctx.host.unprivilegedPortStart).sort((a, b) => a - b);
  if (low.length === 0) return [];
  const user = serviceUser(ctx);
  if (user.canBindLowPorts) return [];
  return [
    finding(
      'K020',
      `Kirin listens on port${low.length === 1 ? '' : 's'} ${low.join(', ')}, below 1024, but ${user.described} may not bind them: start-up would fail with EACCES`,
      ctx.host.unit
        ? `add AmbientCapabilities=CAP_NET_BIND_SERVICE to ${ctx.host.unit.path} (kirin install writes it), then systemctl daemon-reload`
        : 'install it as a service: sudo kirin install --user kirin (grants CAP_NET_BIND_SERVICE), or listen on ports from 1024 up',
      'listen',
    ),
  ];
}

export function checkWorkerCount(ctx: AuditContext): Finding[] {
  if (!ctx.plan) return [];
  const findings: Finding[] = [];
  const { workers } = ctx.plan;
  const { cpus, memoryBytes } = ctx.host;
  if (workers > cpus * WORKERS_PER_CPU) {
    findings.push(
      finding(
        'K021',
        `workers is ${workers} on a machine with ${cpus} CPU${cpus === 1 ? '' : 's'}: Node workers are single-threaded, so more than ${cpus * WORKERS_PER_CPU} add memory and context switches, not throughput`,
        `set workers to ${cpus} (one per CPU, the default), or remove it`,
        'workers',
      ),
    );
  }
  // The master counts as one more process of the same size.
  const needed = (workers + 1) * WORKER_MEMORY_BYTES;
  if (needed > memoryBytes * 0.8) {
    const fit = Math.max(1, Math.floor((memoryBytes * 0.8) / WORKER_MEMORY_BYTES) - 1);
    findings.push(
      finding(
        'K022',
        `workers is ${workers}: at about ${WORKER_MEMORY_BYTES / 1024 / 1024} MB each (plus the master) that is ${mb(needed)} MB, more than 80% of this machine's ${mb(memoryBytes)} MB; the kernel's OOM killer would pick them off`,
        `set workers to ${fit} or fewer, and maxMemory so a leaking worker is recycled first`,
        'workers',
      ),
    );
  }
  return findings;
}

function mb(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}
