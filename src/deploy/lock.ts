/**
 * The deploy lock: one deploy or rollback at a time per host. `mkdir` is
 * atomic, so the folder is the lock; inside it, who holds it and since when,
 * and a heartbeat the holder touches while it works.
 *
 * A lock left by a deploy that died (a cancelled CI job, a laptop that went to
 * sleep) is the classic trap (deployer #1291, #3335): Kirin says when a lock
 * looks stale — its holder on this machine is gone, or its heartbeat stopped —
 * and `kirin deploy --unlock` frees it.
 */
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { KirinError } from '../errors.ts';
import type { Host } from './host.ts';
import { command, fact, readFacts } from './shell.ts';

export interface LockInfo {
  token: string;
  holder: string;
  machine: string;
  pid: number;
  command: string;
  since: string;
}

/** A heartbeat older than this means the holder stopped working. */
export const STALE_AFTER_S = 60;
const HEARTBEAT_EVERY_MS = 10_000;

export function newLockInfo(commandLine: string): LockInfo {
  return {
    token: randomBytes(8).toString('hex'),
    holder: `${safeUser()}@${hostname()}`,
    machine: hostname(),
    pid: process.pid,
    command: commandLine,
    since: new Date().toISOString(),
  };
}

export class HeldLock {
  readonly host: Host;
  readonly info: LockInfo;
  #timer: NodeJS.Timeout | null = null;

  constructor(host: Host, info: LockInfo) {
    this.host = host;
    this.info = info;
    this.#timer = setInterval(() => void this.host.run(command('touch', `${host.layout.lock}/heartbeat`), { quiet: true, what: 'lock heartbeat' }).catch(() => {}), HEARTBEAT_EVERY_MS);
    this.#timer.unref();
  }

  /** Frees the lock if it is still this deploy's. */
  async release(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    const lock = this.host.layout.lock;
    await this.host.run(`grep -q ${command(`"token":"${this.info.token}"`)} ${command(`${lock}/info.json`)} 2>/dev/null && rm -rf ${command(lock)}; true`, { quiet: true, what: 'unlock' });
  }
}

/**
 * The script that takes the lock (the LockInfo comes on stdin) and prints
 * facts saying whether it did. Other facts may follow it in the same round
 * trip; `heldLock` reads its own.
 */
export function lockScript(host: Host): string {
  const { lock, kirinDir } = host.layout;
  return [
    `mkdir -p ${command(kirinDir)}`,
    `if mkdir ${command(lock)} 2>/dev/null; then cat > ${command(`${lock}/info.json`)} && touch ${command(`${lock}/heartbeat`)} && ${fact('lock', 'taken')}`,
    `elif [ ! -d ${command(lock)} ]; then ${fact('lock', 'unwritable')}; ${fact('user', '$(id -un)')}`,
    `else ${fact('lock', 'held')}; ${fact('info', `$(tr -d '\\n' < ${command(`${lock}/info.json`)} 2>/dev/null)`)}; ${fact('age', `$(( $(date +%s) - $(stat -c %Y ${command(`${lock}/heartbeat`)} 2>/dev/null || date +%s) ))`)}; fi`,
  ].join('\n');
}

/** The lock `lockScript` took, or the error that says who holds it and whether it looks stale. */
export function heldLock(host: Host, info: LockInfo, facts: Record<string, string>): HeldLock {
  if (facts.lock === 'taken') return new HeldLock(host, info);
  if (facts.lock === 'unwritable') {
    throw new KirinError('KIRIN_ERR_DEPLOY', `${host.label}: cannot create the deploy lock: ${host.layout.root} is missing or not writable by ${facts.user ?? 'this user'}; run \`kirin deploy setup\` (or as root: mkdir -p ${host.layout.root} && chown -R ${facts.user ?? 'USER'}: ${host.layout.root})`);
  }
  throw new KirinError('KIRIN_ERR_DEPLOY', describeHeldLock(host.label, parseInfo(facts.info), Number(facts.age)));
}

/** Removes a lock whoever holds it (`--unlock`); says whose it was. */
export async function forceUnlock(host: Host): Promise<string> {
  const { lock } = host.layout;
  const result = await host.must(
    `if [ -d ${command(lock)} ]; then ${fact('info', `$(tr -d '\\n' < ${command(`${lock}/info.json`)} 2>/dev/null)`)}; rm -rf ${command(lock)}; ${fact('freed', 'yes')}; else ${fact('freed', 'no')}; fi`,
    'removing the deploy lock',
    { quiet: true },
  );
  const facts = readFacts(result.stdout);
  if (facts.freed !== 'yes') return `${host.label}: no deploy lock was held`;
  const info = parseInfo(facts.info);
  return `${host.label}: freed the deploy lock${info ? ` held by ${info.holder} since ${info.since} (${info.command})` : ''}`;
}

export function describeHeldLock(label: string, info: LockInfo | null, ageSeconds: number): string {
  const who = info ? `${info.holder} since ${info.since} (\`${info.command}\`)` : 'an unknown deploy';
  const stale = staleReason(info, ageSeconds);
  if (stale) {
    return `${label}: the deploy lock held by ${who} looks stale: ${stale}. If no deploy is running, free it with \`kirin deploy --unlock\`.`;
  }
  return `${label}: a deploy is in progress: the lock is held by ${who}, last active ${Number.isFinite(ageSeconds) ? `${ageSeconds} s` : 'a moment'} ago. Wait for it to finish (or, if it died, \`kirin deploy --unlock\`).`;
}

/** Why a held lock looks abandoned, or null when its holder seems alive. */
export function staleReason(info: LockInfo | null, ageSeconds: number, isAlive = pidAlive, here = hostname()): string | null {
  if (info && info.machine === here && !isAlive(info.pid)) return `the deploy that took it (pid ${info.pid} on this machine) is gone`;
  if (Number.isFinite(ageSeconds) && ageSeconds > STALE_AFTER_S) return `its holder stopped updating it ${ageSeconds} s ago`;
  if (!info) return 'it records no holder';
  return null;
}

function parseInfo(text: string | undefined): LockInfo | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as LockInfo;
  } catch {
    return null;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}
