/**
 * `kirin rollback [RELEASE]`: point `current` at a release that is already
 * installed (the previous one, or the one named) and reload — no upload, no
 * npm, seconds. The health gate guards it like a deploy. Database migrations
 * are not reverted, and the command says so.
 */
import type { ServePlan } from '../config/plan.ts';
import { KirinError } from '../errors.ts';
import type { DeployPlan } from './config.ts';
import { healthTargets } from './health-gate.ts';
import { Host } from './host.ts';
import { RELEASE_ID } from './layout.ts';
import { newLockInfo, type HeldLock } from './lock.ts';
import { lockAndLook } from './preflight.ts';
import { seconds, type Progress } from './progress.ts';
import { parseReleases, previousRelease, releasesScript } from './releases-on-host.ts';
import { activateRelease } from './switch.ts';

export const MIGRATIONS_NOTE = 'Database migrations are not reverted: if the release you left ran migrations, the database keeps them. Revert them yourself if the older code needs it (for Django: manage.py migrate APP MIGRATION, from the newer release).';

export async function rollback(plan: DeployPlan, serve: ServePlan, target: string | null, progress: Progress, commandLine: string): Promise<number> {
  if (target !== null && !RELEASE_ID.test(target)) throw new KirinError('KIRIN_ERR_USAGE', `"${target}" is not a release id (like 20261204-172500-123); \`kirin releases\` lists them`);
  const started = Date.now();
  const hosts = plan.hosts.map((spec) => new Host(spec, plan.path, plan.sshConfig, progress));
  const locks: HeldLock[] = [];
  const targets = healthTargets(serve, plan.healthPath);
  const one = async (host: Host) => {
    const step = progress.step(host.label, 'rollback');
    try {
      await host.timed('ssh connection', () => host.ssh.connect());
      const { lock, facts, stdout } = await lockAndLook(host, newLockInfo(commandLine), plan.name, releasesScript(host));
      locks.push(lock);
      const list = parseReleases(stdout);
      const to = target ?? previousRelease(list);
      if (!to) throw new KirinError('KIRIN_ERR_DEPLOY', `${host.label}: there is no release before ${list.current ?? '(none)'} to go back to`);
      if (!list.releases.some((r) => r.id === to)) throw new KirinError('KIRIN_ERR_DEPLOY', `${host.label}: there is no release ${to} (kept: ${list.releases.map((r) => r.id).join(', ') || 'none'})`);
      if (to === list.current) {
        step.done(`${to} is already current`);
        return;
      }
      await activateRelease({ plan, host, mode: facts.systemdUnit ? 'systemd' : 'detached', sudo: facts.sudo, targets, previous: list.current }, to);
      step.done(`current ${list.current} → ${to}; reloaded; health gate passed`);
    } catch (error) {
      step.fail((error as Error).message.split('\n')[0]!);
      throw error;
    }
  };
  try {
    if (plan.rolling) for (const host of hosts) await one(host);
    else {
      const results = await Promise.allSettled(hosts.map(one));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  } finally {
    await Promise.all(locks.map((lock) => lock.release().catch(() => {})));
    for (const host of hosts) host.ssh.close();
  }
  progress.line(`rolled back in ${seconds(Date.now() - started)}. ${MIGRATIONS_NOTE}`);
  return 0;
}
