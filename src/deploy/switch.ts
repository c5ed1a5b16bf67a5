/**
 * Making a release the one that serves: the atomic switch of `current`
 * (a new symlink renamed over the old one — readers see the old link or the
 * new one, never none), Kirin's reload, and the health gate. When the new
 * release does not come up, `current` goes back and Kirin reloads the old one.
 */
import { KirinError } from '../errors.ts';
import type { DeployPlan } from './config.ts';
import { describeGate, runHealthGate, type HealthTarget } from './health-gate.ts';
import type { Host } from './host.ts';
import { command } from './shell.ts';
import { reloadKirin, runningMaster, startKirin, type ServiceMode } from './service.ts';

export async function switchCurrent(host: Host, releaseId: string): Promise<void> {
  const { layout } = host;
  const temp = `${layout.current}.next`;
  await host.must(`ln -sfn ${command(`releases/${releaseId}`)} ${command(temp)} && mv -T ${command(temp)} ${command(layout.current)}`, `switching current to ${releaseId}`, { quiet: true });
}

export interface ActivateContext {
  plan: DeployPlan;
  host: Host;
  mode: ServiceMode;
  sudo: boolean;
  targets: HealthTarget[];
  /** The release serving before, or null on a first deploy. */
  previous: string | null;
  /** Called with each stage's name, for progress. */
  stage?: (name: 'switch' | 'reload' | 'start' | 'health') => void;
}

export interface ActivateResult {
  /** 'reloaded' or 'started'. */
  how: 'reloaded' | 'started';
}

/**
 * Switches to `releaseId` and proves it serves. On failure `current` points at
 * `previous` again (and Kirin serves it) before the error is thrown.
 */
export async function activateRelease(context: ActivateContext, releaseId: string): Promise<ActivateResult> {
  const { plan, host, mode, previous } = context;
  context.stage?.('switch');
  await switchCurrent(host, releaseId);
  let how: ActivateResult['how'] = 'reloaded';
  try {
    if ((await runningMaster(plan, host, mode)) === null) {
      context.stage?.('start');
      how = 'started';
      await startKirin(plan, host, mode, plan.healthTimeoutMs, context.sudo);
    } else {
      context.stage?.('reload');
      const reload = await reloadKirin(plan, host, mode);
      if (!reload.ok) throw new KirinError('KIRIN_ERR_DEPLOY', `the new release did not start: ${reload.error}`);
    }
    context.stage?.('health');
    const gate = await runHealthGate(host, context.targets, plan.healthTimeoutMs);
    if (!gate.ok) throw new KirinError('KIRIN_ERR_DEPLOY', `the health gate failed after ${Math.round(plan.healthTimeoutMs / 1000)} s (${describeGate(gate)})`);
    return { how };
  } catch (error) {
    const reason = (error as Error).message;
    if (previous === null) throw new KirinError('KIRIN_ERR_DEPLOY', `${host.label}: ${reason}; there is no earlier release to go back to.`);
    const back = await switchBack(context, previous);
    throw new KirinError('KIRIN_ERR_DEPLOY', `${host.label}: ${reason}. ${back}`);
  }
}

/** Points `current` at `previous` again and reloads; says how it went. */
export async function switchBack(context: ActivateContext, previous: string): Promise<string> {
  const { plan, host, mode } = context;
  try {
    await switchCurrent(host, previous);
    if ((await runningMaster(plan, host, mode)) === null) {
      await startKirin(plan, host, mode, plan.healthTimeoutMs, context.sudo);
      return `Switched back to ${previous} and started Kirin on it.`;
    }
    const reload = await reloadKirin(plan, host, mode);
    return reload.ok ? `Switched back to ${previous}, which serves again.` : `Switched back to ${previous}; Kirin kept serving it (${reload.error}).`;
  } catch (error) {
    return `Switching back to ${previous} failed too: ${(error as Error).message}`;
  }
}
