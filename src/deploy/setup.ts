/**
 * `kirin deploy setup`: prepares a host, idempotently. Each item is checked
 * first and changed only when it is not as it should be, so a second run
 * changes nothing and says so. What needs root and cannot get it (no root
 * login, no passwordless sudo) is printed as the exact commands to run.
 */
import { KirinError } from '../errors.ts';
import type { DeployPlan } from './config.ts';
import { describeGate, runHealthGate, type HealthTarget } from './health-gate.ts';
import type { HostSpec } from './host-spec.ts';
import { Host } from './host.ts';
import { nodeProblems, readHostFacts } from './preflight.ts';
import type { Progress } from './progress.ts';
import { masterPid, startKirin } from './service.ts';
import { serviceInstallCommands } from './service-install.ts';
import { command, fact, readFacts, shellQuote } from './shell.ts';

export interface SetupItem {
  what: string;
  state: 'ok' | 'changed' | 'todo';
  detail: string;
}

export interface SetupOutcome {
  host: string;
  items: SetupItem[];
}

/**
 * Sets up one host. `login` is who setup connects as (root, or the deploy
 * user); `targets` are the health gate's, for a Kirin that setup starts.
 */
export async function setupHost(plan: DeployPlan, spec: HostSpec, login: HostSpec, targets: HealthTarget[], progress: Progress): Promise<SetupOutcome> {
  const host = new Host(login, plan.path, plan.sshConfig, progress);
  const items: SetupItem[] = [];
  const report = (item: SetupItem) => {
    items.push(item);
    const mark = item.state === 'ok' ? '✓' : item.state === 'changed' ? '+' : '!';
    progress.line(`[${spec.label}] ${mark} ${item.what}: ${item.detail}`);
  };
  try {
    await host.ssh.connect();
    const facts = await readHostFacts(host, plan.name);
    const deployUser = spec.user ?? facts.user;
    // useradd and friends live in sbin, which a non-login PATH may lack.
    const asRoot = facts.user === 'root' ? 'PATH="$PATH:/usr/sbin:/sbin" ' : facts.sudo ? 'sudo -n ' : null;

    const nodeIssues = nodeProblems(spec.label, facts);
    if (nodeIssues.length === 0) report({ what: 'node', state: 'ok', detail: `Node ${facts.node} and npm on the PATH of SSH sessions` });
    else for (const issue of nodeIssues) report({ what: 'node', state: 'todo', detail: issue.replace(`${spec.label}: `, '') });
    report(facts.rsync ? { what: 'rsync', state: 'ok', detail: 'installed' } : { what: 'rsync', state: 'todo', detail: 'not installed (the upload needs it): sudo apt-get install rsync' });

    if (deployUser !== facts.user) await ensureUser(host, deployUser, asRoot, report);
    await ensureFolders(host, deployUser, facts.user, asRoot, report);

    if (deployUser !== facts.user) {
      report({ what: 'service', state: 'ok', detail: `checked when you run setup as ${deployUser} or deploy` });
    } else if (facts.current === null) {
      report({ what: 'service', state: 'ok', detail: 'no release yet: the first `kirin deploy` starts Kirin from current' });
    } else if (facts.systemd) {
      if (facts.systemdUnit) report({ what: 'service', state: 'ok', detail: `${plan.name}.service is installed` });
      else if (asRoot !== null) {
        await host.must(serviceInstallCommands(plan, host.layout, deployUser).map((c) => `${asRoot}sh -c ${command(c)}`).join(' && '), `installing ${plan.name}.service`);
        report({ what: 'service', state: 'changed', detail: `installed and started ${plan.name}.service (kirin install, with a drop-in that starts it through current)` });
      } else {
        report({ what: 'service', state: 'todo', detail: `${plan.name}.service is not installed and ${facts.user} may not sudo; as root on the host run:\n${serviceInstallCommands(plan, host.layout, deployUser).map((c) => `    ${c}`).join('\n')}` });
      }
    } else {
      const mode = 'detached';
      const pid = await masterPid(plan, host, mode);
      if (pid !== null) report({ what: 'service', state: 'ok', detail: `Kirin runs from current (pid ${pid}; systemd does not run this host, so it runs as a detached process)` });
      else {
        await startKirin(plan, host, mode, plan.healthTimeoutMs, false);
        // Started is not serving: the same gate as a deploy's proves it answers.
        const gate = await runHealthGate(host, targets, plan.healthTimeoutMs);
        if (!gate.ok) throw new KirinError('KIRIN_ERR_DEPLOY', `${spec.label}: Kirin started from current but does not serve (${describeGate(gate)}); its log: ${host.layout.logFile}`);
        report({ what: 'service', state: 'changed', detail: `systemd does not run this host: started Kirin from current as a detached process of ${deployUser} (pid file ${host.layout.pidFile}, log ${host.layout.logFile}); health gate passed` });
      }
    }
  } finally {
    host.ssh.close();
  }
  return { host: spec.label, items };
}

async function ensureUser(host: Host, user: string, asRoot: string | null, report: (item: SetupItem) => void): Promise<void> {
  const exists = readFacts((await host.must(fact('exists', `$(id -u ${command(user)} >/dev/null 2>&1 && echo yes)`), 'looking up the user', { quiet: true })).stdout).exists === 'yes';
  if (exists) return report({ what: 'user', state: 'ok', detail: `${user} exists` });
  const create = `useradd --create-home --shell /bin/bash ${command(user)}`;
  // The new user may log in with the keys that let this login in (the usual first step on a fresh VPS).
  const keys = `if [ -f "$HOME/.ssh/authorized_keys" ]; then home=$(getent passwd ${command(user)} | cut -d: -f6); install -d -m 700 -o ${command(user)} -g "$(id -gn ${command(user)})" "$home/.ssh"; [ -f "$home/.ssh/authorized_keys" ] || install -m 600 -o ${command(user)} -g "$(id -gn ${command(user)})" "$HOME/.ssh/authorized_keys" "$home/.ssh/authorized_keys"; fi`;
  if (asRoot === null) return report({ what: 'user', state: 'todo', detail: `${user} does not exist and this login may not sudo; as root run: ${create}` });
  await host.must(`${asRoot}sh -c ${command(`${create} && ${keys}`)}`, `creating the user ${user}`);
  report({ what: 'user', state: 'changed', detail: `created ${user} (its SSH keys: those of this login, if it has any)` });
}

async function ensureFolders(host: Host, user: string, login: string, asRoot: string | null, report: (item: SetupItem) => void): Promise<void> {
  const { layout } = host;
  const folders = [layout.root, layout.releases, layout.shared, layout.kirinDir];
  const check = fact('missing', `$(for d in ${folders.map(shellQuote).join(' ')}; do if [ ! -d "$d" ] || [ "$(stat -c %U "$d")" != ${command(user)} ]; then printf '%s ' "$d"; fi; done)`);
  const missing = (readFacts((await host.must(check, 'looking at the folders', { quiet: true })).stdout).missing ?? '').trim();
  if (!missing) return report({ what: 'folders', state: 'ok', detail: `${layout.root} with releases/, shared/ and .kirin/, owned by ${user}` });
  const mkdir = `mkdir -p ${folders.map(shellQuote).join(' ')}`;
  if (user === login) {
    const tried = await host.run(`${mkdir} 2>/dev/null && [ -w ${command(layout.root)} ] && [ "$(stat -c %U ${command(layout.root)})" = ${command(user)} ]`, { quiet: true });
    if (tried.code === 0) return report({ what: 'folders', state: 'changed', detail: `created ${missing}` });
  }
  const asRootScript = `${mkdir} && chown ${command(`${user}:`)} ${folders.map(shellQuote).join(' ')}`;
  if (asRoot === null) return report({ what: 'folders', state: 'todo', detail: `${login} may not create ${layout.root} or give it to ${user}; as root run: ${asRootScript}` });
  await host.must(`${asRoot}sh -c ${command(asRootScript)}`, `creating ${layout.root}`);
  report({ what: 'folders', state: 'changed', detail: `created ${missing}(owned by ${user})` });
}
