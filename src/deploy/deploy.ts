/**
 * `kirin deploy`, step by step:
 *
 *   lock → build (here) → upload (rsync --link-dest) → install (npm ci or
 *   reuse) → shared paths → afterInstall hooks → kirin check --deploy →
 *   release in place → beforeSwitch hooks → switch current → reload → health gate → afterSwitch
 *   hooks → prune → unlock
 *
 * Everything before the switch happens beside the serving release: a failure
 * there leaves it untouched. After the switch, a release that does not come
 * up is switched back on every host that switched.
 */
import type { ServePlan } from '../config/plan.ts';
import { VERSION } from '../version.ts';
import type { DeployPlan, Hook, HookPhase } from './config.ts';
import { healthTargets } from './health-gate.ts';
import { Host } from './host.ts';
import { checkRelease, discardIncoming, discardRelease, finalizeRelease, installDependencies, installEnvFile, linkShared, markServed, type InstallKind } from './install.ts';
import { newReleaseId, type ReleaseInfo } from './layout.ts';
import { deployer, localProblems, runBuild, sourceInfo } from './local.ts';
import { type HeldLock, newLockInfo } from './lock.ts';
import { lockAndLook, missingForDeploy, throwIfMissing, type HostFacts } from './preflight.ts';
import { seconds, type Progress } from './progress.ts';
import { listReleases, releasesToPrune, removeReleases } from './releases-on-host.ts';
import { runningMaster, type ServiceMode } from './service.ts';
import { command, shellQuote } from './shell.ts';
import { activateRelease, switchBack, type ActivateContext } from './switch.ts';
import { runHooks } from './hooks.ts';
import { rsyncFilters, upload, type UploadStats } from './upload.ts';
import { renderTable } from './table.ts';

export interface DeployOptions {
  dryRun: boolean;
  commandLine: string;
}

interface HostRun {
  host: Host;
  facts: HostFacts;
  mode: ServiceMode;
  lock: HeldLock | null;
  upload: UploadStats | null;
  install: InstallKind | null;
  /** Set once `current` was switched to the new release. */
  switched: boolean;
  how: string;
  pruned: number;
  error: string | null;
  startedAt: number;
  endedAt: number;
}

export async function deploy(plan: DeployPlan, serve: ServePlan, progress: Progress, options: DeployOptions): Promise<number> {
  throwIfMissing(localProblems(plan));
  const releaseId = newReleaseId();
  if (options.dryRun) {
    printPlan(plan, releaseId, progress);
    return 0;
  }
  const runs: HostRun[] = plan.hosts.map((spec) => ({
    host: new Host(spec, plan.path, plan.sshConfig, progress),
    facts: null as unknown as HostFacts,
    mode: 'detached',
    lock: null,
    upload: null,
    install: null,
    switched: false,
    how: '',
    pruned: 0,
    error: null,
    startedAt: Date.now(),
    endedAt: 0,
  }));
  const started = Date.now();
  try {
    await eachHost(runs, progress, 'connect', async (run) => {
      await run.host.timed('ssh connection', () => run.host.ssh.connect());
      ({ lock: run.lock, facts: run.facts } = await lockAndLook(run.host, newLockInfo(options.commandLine), plan.name));
      run.mode = run.facts.systemdUnit ? 'systemd' : 'detached';
      throwIfMissing(missingForDeploy(run.host.label, plan.path, run.facts));
      return `locked; ${run.facts.current ? `serving ${run.facts.current}` : 'first deploy'}; Node ${run.facts.node}; ${run.mode === 'systemd' ? `${plan.name}.service` : 'no systemd unit: Kirin runs detached'}`;
    });

    if (plan.build) {
      const step = progress.step(null, `build: ${plan.build}`);
      try {
        await runBuild(plan, (line) => progress.remote('build', line));
        step.done();
      } catch (error) {
        step.fail((error as Error).message);
        throw error;
      }
    }

    const source = sourceInfo(plan.projectDir);
    const info: ReleaseInfo = { id: releaseId, commit: source.commit, dirty: source.dirty, deployedAt: new Date().toISOString(), deployedBy: deployer(), kirinVersion: VERSION, servedAt: null };
    progress.line(`release ${releaseId}${source.commit ? ` (commit ${source.commit}${source.dirty ? ' + uncommitted changes' : ''})` : ''} → ${plan.path} on ${runs.length} host${runs.length === 1 ? '' : 's'}`);

    try {
      await eachHost(runs, progress, 'upload', async (run) => {
        const { host, facts } = run;
        // Leftovers of deploys that failed mid-way (we hold the lock: nobody else writes there).
        await host.must(`rm -rf ${command(`${host.layout.kirinDir}/incoming`)} && mkdir -p ${[`${host.layout.kirinDir}/incoming`, host.layout.releases, host.layout.shared].map(shellQuote).join(' ')}`, 'preparing the folders', { quiet: true });
        run.upload = await upload(plan, host, releaseId, facts.current ? host.layout.release(facts.current) : null);
        return `${run.upload.filesTransferred} of ${run.upload.files} files sent (${kilobytes(run.upload.bytesTransferred)}, ${kilobytes(run.upload.bytesSent)} on the wire)`;
      });
      await eachHost(runs, progress, 'install', async (run) => {
        await installEnvFile(plan, run.host, releaseId);
        run.install = await installDependencies(run.host, releaseId, run.facts.current);
        await linkShared(plan, run.host, releaseId);
        return run.install === 'reused' ? 'lockfile unchanged: node_modules linked from the current release' : 'npm ci --omit=dev';
      });
      // Files the release needs before it can pass the check (collectstatic): made in it, on every host.
      await runPhaseHooks(runs, progress, 'afterInstall', plan.hooks.afterInstall, releaseId);
      await eachHost(runs, progress, 'check', async (run) => {
        await checkRelease(plan, run.host, releaseId);
        await finalizeRelease(run.host, info);
        return `kirin check --deploy passed; releases/${releaseId} in place`;
      });
      await runPhaseHooks(runs, progress, 'beforeSwitch', plan.hooks.beforeSwitch, releaseId);
    } catch (error) {
      await Promise.all(runs.map(async (run) => {
        await discardIncoming(run.host, releaseId);
        await discardRelease(run.host, releaseId);
      }));
      throw error;
    }

    const targets = healthTargets(serve, plan.healthPath);
    const contexts = new Map<HostRun, ActivateContext>();
    const activate = async (run: HostRun) => {
      const context: ActivateContext = { plan, host: run.host, mode: run.mode, sudo: run.facts.sudo, targets, previous: run.facts.current };
      contexts.set(run, context);
      run.switched = true;
      const result = await activateRelease(context, releaseId);
      // It serves either way; a record that failed to be written only makes rollback pass over it.
      await markServed(run.host, info).catch(() => {});
      run.how = result.how === 'started' ? `started Kirin${run.mode === 'detached' ? ' (detached: systemd does not run this host; pid file in .kirin/)' : ''}` : 'reloaded';
      return `current → ${releaseId}; ${run.how}; health gate passed`;
    };
    try {
      if (plan.rolling) for (const run of runs) await eachHost([run], progress, 'switch', activate);
      else await eachHost(runs, progress, 'switch', activate);
    } catch (error) {
      // activateRelease already switched back the host that failed; the others that switched go back too.
      const others = runs.filter((run) => run.switched && run.error === null && run.facts.current !== null);
      for (const run of others) progress.line(`[${run.host.label}] ${await switchBack(contexts.get(run)!, run.facts.current!)}`);
      for (const run of runs) if (run.switched) await discardRelease(run.host, releaseId);
      throw error;
    }

    await runPhaseHooks(runs, progress, 'afterSwitch', plan.hooks.afterSwitch, releaseId);

    await eachHost(runs, progress, 'prune', async (run) => {
      const list = await listReleases(run.host);
      const masterRunsFrom = (await runningMaster(plan, run.host, run.mode))?.release ?? null;
      const prune = releasesToPrune(list.releases.map((r) => r.id), plan.keep, [list.current, masterRunsFrom]);
      await removeReleases(run.host, prune);
      run.pruned = prune.length;
      return `${list.releases.length - prune.length} releases kept (keep: ${plan.keep})${prune.length ? `, ${prune.length} removed` : ''}${masterRunsFrom && masterRunsFrom !== list.current ? `; ${masterRunsFrom} stays while Kirin's master runs from it (until it restarts)` : ''}`;
    });
  } finally {
    await Promise.all(runs.map(async (run) => {
      await run.lock?.release().catch(() => {});
      run.host.ssh.close();
    }));
    progress.line('');
    progress.line(summary(runs, releaseId));
  }
  progress.line(`deployed ${releaseId} in ${seconds(Date.now() - started)}`);
  return 0;
}

/** Runs a step on every host at once; the first failure is rethrown after all finished. */
async function eachHost(runs: HostRun[], progress: Progress, name: string, work: (run: HostRun) => Promise<string>): Promise<void> {
  const results = await Promise.allSettled(runs.map(async (run) => {
    const step = progress.step(run.host.label, name);
    try {
      step.done(await work(run));
      run.endedAt = Date.now();
    } catch (error) {
      run.error = run.error ?? (error as Error).message;
      run.endedAt = Date.now();
      step.fail(firstLine((error as Error).message));
      throw error;
    }
  }));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * afterInstall hooks run on every host, in the release still being made;
 * the others on the first host, and those marked perHost on every host.
 */
async function runPhaseHooks(runs: HostRun[], progress: Progress, phase: HookPhase, hooks: Hook[], releaseId: string): Promise<void> {
  if (hooks.length === 0) return;
  await eachHost(runs, progress, phase, async (run) => {
    const mine = run === runs[0] || phase === 'afterInstall' ? hooks : hooks.filter((h) => h.perHost);
    const dir = phase === 'afterInstall' ? run.host.layout.incoming(releaseId) : run.host.layout.release(releaseId);
    await runHooks(run.host, phase, mine, dir, releaseId);
    return mine.length === 0 ? 'none for this host' : mine.map((h) => h.run).join('; ');
  });
}

function summary(runs: HostRun[], releaseId: string): string {
  const rows = [['HOST', 'RELEASE', 'UPLOAD', 'INSTALL', 'RESULT', 'TIME']];
  for (const run of runs) {
    rows.push([
      run.host.label,
      releaseId,
      run.upload ? `${run.upload.filesTransferred}/${run.upload.files} files, ${kilobytes(run.upload.bytesSent)}` : '-',
      run.install ?? '-',
      run.error ? `failed: ${firstLine(run.error).replace(`${run.host.label}: `, '').slice(0, 60)}` : run.how ? `serving (${run.how.split(' (')[0]})` : 'not switched',
      seconds((run.endedAt || Date.now()) - run.startedAt),
    ]);
  }
  return renderTable(rows);
}

function printPlan(plan: DeployPlan, releaseId: string, progress: Progress): void {
  const lines = [
    `kirin deploy --dry-run: what a deploy of ${plan.projectDir} would do (nothing is changed)`,
    `  hosts:   ${plan.hosts.map((h) => h.label).join(', ')}${plan.rolling ? ' (rolling: one by one)' : ' (switched all at once)'}`,
    `  path:    ${plan.path}  (releases/, shared/, current)`,
    `  1. lock ${plan.path}/.kirin/lock on each host`,
    `  2. build: ${plan.build ?? '(no build command)'}`,
    `  3. upload into ${plan.path}/.kirin/incoming/${releaseId}: rsync --archive --delete --compress --link-dest=${plan.path}/releases/<current> ${rsyncFilters(plan).join(' ')}`,
    `  4. env file: ${plan.envFile ? `${plan.envFile} → ${plan.path}/shared/env/${releaseId} (0600), linked as .env` : '(none)'}`,
    '  5. install: npm ci --omit=dev, or node_modules linked from the current release when package-lock.json is unchanged',
    `  6. shared: ${plan.shared.length ? plan.shared.map((p) => `${p} → ${plan.path}/shared/${p}`).join(', ') : '(none)'}`,
    `  7. afterInstall hooks: ${plan.hooks.afterInstall.map((h) => `${h.run} (every host)`).join('; ') || '(none)'}`,
    `  8. kirin check --deploy --config ${plan.configName} on the host; then releases/${releaseId}`,
    `  9. beforeSwitch hooks: ${describeHooks(plan.hooks.beforeSwitch)}`,
    ` 10. switch ${plan.path}/current → releases/${releaseId}, kirin reload (or start it), health gate (${Math.round(plan.healthTimeoutMs / 1000)} s: /readyz and GET ${plan.healthPath ?? '/'})`,
    ` 11. afterSwitch hooks: ${describeHooks(plan.hooks.afterSwitch)}`,
    ` 12. keep the newest ${plan.keep} releases, unlock`,
  ];
  for (const line of lines) progress.line(line);
}

function describeHooks(hooks: Hook[]): string {
  return hooks.map((h) => `${h.run}${h.perHost ? ' (every host)' : ' (first host)'}`).join('; ') || '(none)';
}

function kilobytes(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} kB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}

