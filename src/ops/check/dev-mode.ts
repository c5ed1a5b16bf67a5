/**
 * K034: production runs `kirin dev` — its error page shows source code and
 * requests, it runs one worker without a watchdog and restarts on every file
 * change. Seen two ways: the service's ExecStart, and a Kirin running for
 * this config that says it is in dev mode.
 */
import { sendControl } from '../../master/control.ts';
import { finding, type Finding } from './catalog.ts';
import type { AuditContext } from './context.ts';

/** A running master answers at once; a hung one is not this check's business. */
const STATUS_TIMEOUT_MS = 2_000;

export async function checkDevMode(ctx: AuditContext): Promise<Finding[]> {
  const findings: Finding[] = [];
  const unit = ctx.host.unit;
  if (unit?.runsDev) {
    findings.push(
      finding('K034', `${unit.path} starts kirin dev, the development server: its error page shows source code and request headers, and it runs one worker without a watchdog`, `run kirin serve in ExecStart (kirin install writes the unit that way), then systemctl daemon-reload && systemctl restart ${unit.path.slice(unit.path.lastIndexOf('/') + 1)}`, unit.path),
    );
  }
  if (ctx.plan) {
    let status: { dev?: boolean; pid?: number } | null = null;
    try {
      status = (await sendControl(ctx.plan.stateDir, 'status', {}, STATUS_TIMEOUT_MS)) as { dev?: boolean; pid?: number };
    } catch {
      // Nothing running for this config (or not reachable): nothing to report.
    }
    if (status?.dev === true) {
      findings.push(
        finding('K034', `the Kirin running for this config (pid ${status.pid}) is kirin dev, the development server: its error page shows source code and request headers`, 'stop it (q in its terminal, or kirin stop) and start kirin serve, or the service kirin install wrote', `process ${status.pid}`),
      );
    }
  }
  return findings;
}
