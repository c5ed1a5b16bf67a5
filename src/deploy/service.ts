/**
 * The Kirin that serves the app on the host, reached with its own commands
 * (`kirin status`, `kirin reload`) from the current release.
 *
 * Under systemd it is the unit `kirin install` wrote, plus a drop-in that
 * starts it through `current`, so a restart always runs the current release's
 * Kirin. Where systemd does not run (a container, a test host), the deploy
 * starts it itself as a detached process of the deploy user, with its pid
 * file and log in .kirin/.
 */
import { KirinError } from '../errors.ts';
import type { DeployPlan } from './config.ts';
import type { Host } from './host.ts';
import { command, fact, readFacts, shellQuote } from './shell.ts';

export type ServiceMode = 'systemd' | 'detached';

export interface ReloadOutcome {
  ok: boolean;
  error: string | null;
}

/** Environment for Kirin commands: under systemd the state folder is the unit's (StateDirectory=). */
function kirinEnv(mode: ServiceMode, unitName: string): string {
  return mode === 'systemd' ? `STATE_DIRECTORY=${command(`/var/lib/${unitName}`)} ` : '';
}

/** `node <current>/…/bin.js <args>` with the config read through `current`. */
export function kirinCommand(plan: DeployPlan, host: Host, mode: ServiceMode, ...args: string[]): string {
  return `${kirinEnv(mode, plan.name)}node ${command(host.layout.kirinBin)} ${args.map(shellQuote).join(' ')} --config ${command(host.layout.config(plan.configName))}`;
}

/** The running master's pid, or null when no Kirin answers on the control socket. */
export async function masterPid(plan: DeployPlan, host: Host, mode: ServiceMode): Promise<number | null> {
  const result = await host.run(`[ -e ${command(host.layout.kirinBin)} ] && ${kirinCommand(plan, host, mode, 'status', '--json')}`, { quiet: true, what: 'kirin status' });
  if (result.code !== 0) return null;
  try {
    return (JSON.parse(result.stdout) as { pid: number }).pid;
  } catch {
    return null;
  }
}

/** `kirin reload`: the new generation starts from `current`; a failing one is rolled back by the master. */
export async function reloadKirin(plan: DeployPlan, host: Host, mode: ServiceMode): Promise<ReloadOutcome> {
  const result = await host.run(kirinCommand(plan, host, mode, 'reload', '--json'), { quiet: true, what: 'kirin reload' });
  try {
    const answer = JSON.parse(result.stdout) as { ok: boolean; error?: string };
    return { ok: answer.ok === true && result.code === 0, error: answer.ok ? null : (answer.error ?? 'the new generation did not start') };
  } catch {
    return { ok: false, error: (result.stderr || result.stdout).trim().split('\n').pop() || `kirin reload exited ${result.code}` };
  }
}

/**
 * Starts Kirin from `current`: `systemctl start` under systemd, else a
 * detached `kirin serve` of the deploy user. Waits until it answers.
 */
export async function startKirin(plan: DeployPlan, host: Host, mode: ServiceMode, timeoutMs: number, sudo: boolean): Promise<void> {
  const { layout } = host;
  let pid = 0;
  if (mode === 'systemd') {
    await host.must(`${sudo ? 'sudo -n ' : ''}systemctl start ${command(`${plan.name}.service`)}`, `starting ${plan.name}.service`);
  } else {
    // setsid: the master outlives this SSH session; its output goes to .kirin/kirin.log.
    const serve = `node ${command(layout.kirinBin)} serve --config ${command(layout.config(plan.configName))} --pid ${command(layout.pidFile)}`;
    const script = [
      `cd ${command(layout.current)}`,
      'export NODE_ENV="${NODE_ENV:-production}"',
      `if command -v setsid >/dev/null 2>&1; then setsid ${serve} >> ${command(layout.logFile)} 2>&1 < /dev/null & else nohup ${serve} >> ${command(layout.logFile)} 2>&1 < /dev/null & fi`,
      fact('pid', '$!'),
    ].join('\n');
    pid = Number(readFacts((await host.must(script, 'starting Kirin', { quiet: true })).stdout).pid);
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await masterPid(plan, host, mode)) !== null) return;
    if (Date.now() > deadline) break;
    const alive = await host.run(mode === 'systemd' ? `! systemctl is-failed --quiet ${command(`${plan.name}.service`)}` : `kill -0 ${pid}`, { quiet: true });
    if (alive.code !== 0) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const log = await host.run(mode === 'systemd' ? `journalctl -u ${command(`${plan.name}.service`)} -n 20 --no-pager 2>/dev/null` : `tail -n 20 ${command(layout.logFile)} 2>/dev/null`, { quiet: true });
  throw new KirinError('KIRIN_ERR_DEPLOY', `Kirin did not start from ${layout.current}. Its last lines:\n${log.stdout.trim().split('\n').map((l) => `  ${l}`).join('\n')}`);
}

export interface RunningMaster {
  pid: number;
  /** The release its code and working folder are in (it never leaves them until it restarts), or null. */
  release: string | null;
}

/**
 * The master that serves, and the release it runs from. First without
 * starting Node on the host (a deploy pays for every Node start): the unit's
 * main pid under systemd, else the pid file a detached Kirin writes once it
 * serves. A Kirin started some other way is asked through its control socket.
 */
export async function runningMaster(plan: DeployPlan, host: Host, mode: ServiceMode): Promise<RunningMaster | null> {
  const { layout } = host;
  const pidSource = mode === 'systemd' ? `systemctl show -p MainPID --value ${command(`${plan.name}.service`)} 2>/dev/null` : `cat ${command(layout.pidFile)} 2>/dev/null`;
  const lookAt = (pid: string) => [
    `if [ -n "${pid}" ] && [ "${pid}" != 0 ] && grep -q kirin /proc/${pid}/cmdline 2>/dev/null; then`,
    `  ${fact('pid', pid)}; ${fact('cwd', `$(readlink /proc/${pid}/cwd 2>/dev/null)`)}`,
    'fi',
  ].join('\n');
  const script = `pid=$(${pidSource})\n${lookAt('$pid')}`;
  let facts = readFacts((await host.run(script, { quiet: true, what: 'find the running Kirin' })).stdout);
  if (!facts.pid) {
    const pid = await masterPid(plan, host, mode);
    if (pid === null) return null;
    facts = readFacts((await host.run(lookAt(String(pid)), { quiet: true, what: 'the running Kirin\'s release' })).stdout);
    facts.pid ??= String(pid);
  }
  const prefix = `${layout.releases}/`;
  const cwd = facts.cwd ?? '';
  return { pid: Number(facts.pid), release: cwd.startsWith(prefix) ? cwd.slice(prefix.length).split('/')[0]! : null };
}
