/**
 * Before anything changes on a host: can we deploy there at all? One round
 * trip gathers the facts (for a deploy, the same one that takes the lock);
 * each missing piece becomes an error that says how to get it (and
 * `kirin deploy setup` says the same).
 */
import { KirinError } from '../errors.ts';
import { MINIMUM_NODE, nodeIsSupported } from '../runtime.ts';
import type { Host } from './host.ts';
import { RELEASE_ID } from './layout.ts';
import { heldLock, lockScript, type HeldLock, type LockInfo } from './lock.ts';
import { command, fact, readFacts } from './shell.ts';

export interface HostFacts {
  user: string;
  rsync: boolean;
  npm: boolean;
  /** The host's Node version, or null when `node` is not on the PATH of an SSH session. */
  node: string | null;
  /** The app folder exists and this user may write it. */
  writable: boolean;
  exists: boolean;
  /** The release `current` points at, or null. */
  current: string | null;
  /** Free space where the app lives, in KiB (null if unknown). */
  freeKb: number | null;
  /** systemd runs the host and the app's unit exists. */
  systemdUnit: boolean;
  /** systemd runs this host (PID 1). */
  systemd: boolean;
  /** The SSH user may use sudo without a password. */
  sudo: boolean;
}

export async function readHostFacts(host: Host, unitName: string): Promise<HostFacts> {
  return parseHostFacts(readFacts((await host.must(hostFactsScript(host, unitName), 'looking at the host', { quiet: true })).stdout));
}

/**
 * The first look of a deploy or rollback, in one round trip: take the lock
 * and, when it was taken, read the host's facts and run `more` (a script
 * whose output the caller reads from `stdout`).
 */
export async function lockAndLook(host: Host, info: LockInfo, unitName: string, more = ''): Promise<{ lock: HeldLock; facts: HostFacts; stdout: string }> {
  const mine = command(`${host.layout.lock}/info.json`);
  const script = `${lockScript(host)}\nif grep -q ${command(`"token":"${info.token}"`)} ${mine} 2>/dev/null; then\n${hostFactsScript(host, unitName)}\n${more}\nfi`;
  const { stdout } = await host.must(script, 'taking the deploy lock and looking at the host', { input: JSON.stringify(info), quiet: true });
  const facts = readFacts(stdout);
  return { lock: heldLock(host, info, facts), facts: parseHostFacts(facts), stdout };
}

function hostFactsScript(host: Host, unitName: string): string {
  const { root, current } = host.layout;
  const q = command;
  return [
    fact('user', '$(id -un)'),
    fact('rsync', '$(command -v rsync >/dev/null 2>&1 && echo yes)'),
    fact('npm', '$(command -v npm >/dev/null 2>&1 && echo yes)'),
    fact('node', '$(node -p process.versions.node 2>/dev/null)'),
    fact('exists', `$([ -d ${q(root)} ] && echo yes)`),
    fact('writable', `$([ -d ${q(root)} ] && [ -w ${q(root)} ] && echo yes)`),
    fact('current', `$(readlink ${q(current)} 2>/dev/null)`),
    fact('free', `$(df -Pk ${q(root)} 2>/dev/null | awk 'NR==2 {print $4}')`),
    fact('systemd', '$([ -d /run/systemd/system ] && echo yes)'),
    fact('unit', `$([ -d /run/systemd/system ] && systemctl cat ${q(`${unitName}.service`)} >/dev/null 2>&1 && echo yes)`),
    fact('sudo', '$(sudo -n true >/dev/null 2>&1 && echo yes)'),
  ].join('\n');
}

function parseHostFacts(facts: Record<string, string>): HostFacts {
  const currentId = facts.current?.split('/').pop() ?? '';
  return {
    user: facts.user ?? '',
    rsync: facts.rsync === 'yes',
    npm: facts.npm === 'yes',
    node: facts.node || null,
    exists: facts.exists === 'yes',
    writable: facts.writable === 'yes',
    current: RELEASE_ID.test(currentId) ? currentId : null,
    freeKb: facts.free ? Number(facts.free) : null,
    systemd: facts.systemd === 'yes',
    systemdUnit: facts.unit === 'yes',
    sudo: facts.sudo === 'yes',
  };
}

/** What is missing for a deploy, each with how to fix it; empty when the host is ready. */
export function missingForDeploy(label: string, root: string, facts: HostFacts): string[] {
  const problems: string[] = [];
  if (!facts.rsync) problems.push(`${label}: rsync is not installed on the host (the upload needs it on both ends): sudo apt-get install rsync`);
  problems.push(...nodeProblems(label, facts));
  if (!facts.exists) problems.push(`${label}: ${root} does not exist: run \`kirin deploy setup\` first`);
  else if (!facts.writable) problems.push(`${label}: ${root} is not writable by ${facts.user}: run \`kirin deploy setup\`, or as root: chown -R ${facts.user}: ${root}`);
  return problems;
}

export function nodeProblems(label: string, facts: HostFacts): string[] {
  const want = `${MINIMUM_NODE[0]}.${MINIMUM_NODE[1]}`;
  const how = 'install a current Node.js system-wide (Debian/Ubuntu: the NodeSource packages, see docs/production.md) so that `node` and `npm` are on the PATH of an SSH session';
  if (facts.node === null) return [`${label}: no \`node\` on the PATH of an SSH session (Kirin needs Node ${want} or newer): ${how}`];
  const problems: string[] = [];
  if (!nodeIsSupported(facts.node)) problems.push(`${label}: Node ${facts.node} is too old (Kirin needs ${want} or newer): ${how}`);
  if (!facts.npm) problems.push(`${label}: no \`npm\` on the PATH of an SSH session (the install step runs npm ci): ${how}`);
  return problems;
}

export function throwIfMissing(problems: string[]): void {
  if (problems.length > 0) throw new KirinError('KIRIN_ERR_DEPLOY', problems.join('\n'));
}
