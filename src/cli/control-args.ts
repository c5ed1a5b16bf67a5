/**
 * Finding the running master from another shell, in this order: --state-dir;
 * the state folder of the config here (or --config) when a Kirin answers
 * there, else the state folder systemd gives the installed service of that
 * config; without a config, a Kirin started here, else — as `pm2 status`
 * finds its daemon — the one Kirin `kirin install` set up on this machine,
 * when there is exactly one.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { findConfigFile } from '../config/load.ts';
import { defaultStateDir, stateDirOfConfig } from '../config/state-dir.ts';
import { KirinError } from '../errors.ts';
import { CONTROL_SOCKET, sendControl } from '../master/control.ts';
import { DEFAULT_UNIT_DIR, listInstalledKirins, type InstalledKirin } from '../ops/systemd/installed-unit.ts';
import { parseCommandLine, type Options } from './args.ts';

export const CONTROL_OPTIONS = {
  'state-dir': { type: 'string' },
  config: { type: 'string', short: 'c' },
  'unit-dir': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export interface ControlArgs {
  stateDir: string;
  /** How the master was found, when not from this folder: said before talking to it. */
  via: string | null;
  /** The systemd unit that runs it, when it was found through one. */
  unit: string | null;
  json: boolean;
  help: boolean;
}

export interface ControlLookup {
  /** Look for the Kirin `kirin install` set up when nothing here names one (status, reload, stop, certs). */
  installed: boolean;
}

export async function parseControlArgs<T extends Options>(argv: string[], usage: string, lookup: ControlLookup, extra: T = {} as T, maxPositionals = 0) {
  const { values, positionals } = parseCommandLine(argv, { ...CONTROL_OPTIONS, ...extra }, usage, maxPositionals);
  // The command's own flags widen the type; these are always there.
  const control = values as { 'state-dir'?: string; config?: string; 'unit-dir'?: string; json?: boolean; help?: boolean };
  const help = control.help === true;
  const json = control.json === true;
  const target = help ? { stateDir: '', via: null, unit: null } : await findMaster(control['state-dir'], control.config, lookup.installed ? (control['unit-dir'] ?? DEFAULT_UNIT_DIR) : null);
  return { args: { ...target, json, help } satisfies ControlArgs, values, positionals };
}

type Target = Pick<ControlArgs, 'stateDir' | 'via' | 'unit'>;

async function findMaster(stateDir: string | undefined, config: string | undefined, unitDir: string | null): Promise<Target> {
  const cwd = process.cwd();
  if (stateDir) return { stateDir: resolve(cwd, stateDir), via: null, unit: null };
  const configFile = config ? resolve(cwd, config) : findConfigFile(cwd);
  const here = configFile ? await stateDirOfConfig(configFile, process.env) : defaultStateDir(cwd, process.env);
  if (unitDir === null || existsSync(join(here, CONTROL_SOCKET))) return { stateDir: here, via: null, unit: null };
  const installed = listInstalledKirins(unitDir);
  // The config here, run by systemd: its state is where StateDirectory= put it, not in this user's home.
  const serving = configFile ? installed.find((kirin) => kirin.configFile === configFile) : undefined;
  if (serving) return viaInstalled(serving);
  if (configFile || installed.length === 0) return { stateDir: here, via: null, unit: null };
  if (installed.length > 1) {
    const choices = await Promise.all(installed.map(async (kirin) => `  ${kirin.unit}: --state-dir ${await installedStateDir(kirin)}`));
    throw new KirinError('KIRIN_ERR_USAGE', `no Kirin runs for ${cwd}, and ${installed.length} are installed; pick one:\n${choices.join('\n')}`);
  }
  return viaInstalled(installed[0]!);
}

async function viaInstalled(kirin: InstalledKirin): Promise<Target> {
  const stateDir = await installedStateDir(kirin);
  return { stateDir, via: `the Kirin installed as ${kirin.unit} (${kirin.configFile ?? 'no config file'}; state in ${stateDir})`, unit: kirin.unit };
}

/** Its config's stateDir if it sets one, else what systemd's StateDirectory= gives it. */
async function installedStateDir(kirin: InstalledKirin): Promise<string> {
  if (kirin.configFile === null) return kirin.stateDirectory;
  try {
    return await stateDirOfConfig(kirin.configFile, { STATE_DIRECTORY: kirin.stateDirectory });
  } catch {
    // Unreadable to this user, or broken since: systemd's folder is still the best guess.
    return kirin.stateDirectory;
  }
}

/** Sends a command to the master `args` found, saying which one first when it is not this folder's. */
export async function sendToMaster(args: ControlArgs, cmd: string, cmdArgs: Record<string, unknown> = {}, timeoutMs?: number): Promise<unknown> {
  if (args.via) process.stderr.write(`kirin: talking to ${args.via}\n`);
  try {
    accessSync(args.stateDir, constants.X_OK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EACCES') {
      throw new KirinError('KIRIN_ERR_CONTROL', `cannot reach the control socket in ${args.stateDir}: permission denied; run the command as the user Kirin runs as, or as root (sudo npx kirin …)`);
    }
  }
  try {
    return await sendControl(args.stateDir, cmd, cmdArgs, timeoutMs);
  } catch (error) {
    if (!(error instanceof KirinError) || error.code !== 'KIRIN_ERR_NOT_RUNNING') throw error;
    const socket = join(args.stateDir, CONTROL_SOCKET);
    throw new KirinError(
      'KIRIN_ERR_NOT_RUNNING',
      args.unit
        ? `${args.unit} is not running (no control socket at ${socket}); start it: sudo systemctl start ${args.unit}`
        : `Kirin is not running here (no control socket at ${socket}); start it with \`kirin serve\`, or give the state folder it uses: --state-dir DIR (the stateDir of its config)`,
    );
  }
}
