/**
 * Putting the units in place: the service user (created on request), the
 * folders the unit lets Kirin write, the unit files — or, with --dry-run, all
 * of it printed instead of done.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KirinError } from '../../errors.ts';
import type { CommandRunner } from '../command-runner.ts';
import type { UnitFile } from './service-unit.ts';

export interface ServiceUser {
  name: string;
  group: string | null;
  exists: boolean;
  /** Its uid and every group it is in (for what it may read and run); null and [] when it does not exist. */
  uid: number | null;
  gids: number[];
}

/** Looks the user up (getent), its primary group (id -gn) and all its groups (id -G). */
export async function lookUpUser(name: string, run: CommandRunner): Promise<ServiceUser> {
  const entry = await run('getent', ['passwd', name]);
  const exists = entry !== null && entry.code === 0 && entry.stdout.trim() !== '';
  let group: string | null = null;
  let gids: number[] = [];
  if (exists) {
    const id = await run('id', ['-gn', name]);
    if (id && id.code === 0) group = id.stdout.trim() || null;
    const groups = await run('id', ['-G', name]);
    if (groups && groups.code === 0) gids = groups.stdout.trim().split(/\s+/).map(Number).filter(Number.isInteger);
  }
  const uid = exists ? Number(entry!.stdout.split(':')[2]) : NaN;
  return { name, group, exists, uid: Number.isInteger(uid) ? uid : null, gids };
}

/** The useradd line for a system user that owns nothing and cannot log in. */
export function createUserCommand(user: string, home: string): string[] {
  return ['useradd', '--system', '--user-group', '--home-dir', home, '--no-create-home', '--shell', '/usr/sbin/nologin', user];
}

export interface InstallSteps {
  unitDir: string;
  files: UnitFile[];
  /** The useradd command to run first, or null. */
  createUser: string[] | null;
  /** Folders in ReadWritePaths= that do not exist yet (systemd refuses to start without them). */
  createFolders: { path: string; owner: string }[];
  dryRun: boolean;
  run: CommandRunner;
  print: (text: string) => void;
}

export async function performInstall(steps: InstallSteps): Promise<string[]> {
  const written: string[] = [];
  if (steps.dryRun) {
    if (steps.createUser) steps.print(`# would run: ${steps.createUser.join(' ')}\n`);
    for (const folder of steps.createFolders) steps.print(`# would create ${folder.path} (owner ${folder.owner})\n`);
    for (const file of steps.files) steps.print(`# ==> ${join(steps.unitDir, file.name)} <==\n${file.text}\n`);
    return written;
  }
  if (steps.createUser) {
    const result = await steps.run(steps.createUser[0]!, steps.createUser.slice(1));
    if (result === null || result.code !== 0) {
      throw new KirinError('KIRIN_ERR_USAGE', `could not create the user: ${steps.createUser.join(' ')} ${result ? `failed: ${result.stderr.trim()}` : 'is not available'} (run as root, or create the user yourself)`);
    }
  }
  for (const folder of steps.createFolders) {
    mkdirSync(folder.path, { recursive: true, mode: 0o750 });
    await steps.run('chown', [folder.owner, folder.path]);
  }
  try {
    mkdirSync(steps.unitDir, { recursive: true });
    for (const file of steps.files) {
      const path = join(steps.unitDir, file.name);
      writeFileSync(path, file.text, { mode: 0o644 });
      written.push(path);
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new KirinError('KIRIN_ERR_USAGE', `cannot write to ${steps.unitDir} (${code}): run it with sudo, or look first with --dry-run`);
    throw error;
  }
  return written;
}

export function missingFolders(paths: readonly string[], owner: string): { path: string; owner: string }[] {
  return paths.filter((p) => !existsSync(p)).map((path) => ({ path, owner }));
}

/** What to type next, for the units just written. */
export function nextSteps(name: string, socket: boolean, dryRun: boolean): string {
  const enable = socket ? `${name}.socket ${name}.service` : `${name}.service`;
  return [
    dryRun ? 'Nothing was written (--dry-run). To install, run the same command without --dry-run (as root), then:' : 'Next:',
    '  sudo systemctl daemon-reload',
    `  sudo systemctl enable --now ${enable}`,
    `  systemctl status ${name}                 # is it running?`,
    `  journalctl -u ${name} -f                 # follow the logs`,
    `  sudo systemctl reload ${name}            # zero-downtime reload after a deploy`,
    `  sudo systemctl restart ${name}           # after upgrading Node or Kirin`,
    '  sudo npx kirin check --deploy          # audit the service as installed',
    '',
  ].join('\n');
}
