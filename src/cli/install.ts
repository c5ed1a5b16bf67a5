/**
 * `kirin install [--user NAME] [--create-user] [--socket] [--dry-run]` —
 * write the systemd units that run this config.
 */
import { realpathSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPlainObject } from '../config/issues.ts';
import { loadConfigFile } from '../config/load.ts';
import { normalizeConfig } from '../config/normalize.ts';
import { ExitCode, KirinError } from '../errors.ts';
import { runCommand } from '../ops/command-runner.ts';
import { DEFAULT_UNIT_DIR } from '../ops/systemd/installed-unit.ts';
import { accessProblem, type Need } from '../ops/systemd/access.ts';
import { createUserCommand, lookUpUser, missingFolders, nextSteps, performInstall, type ServiceUser } from '../ops/systemd/install.ts';
import { buildUnits, stateDirectoryPath } from '../ops/systemd/service-unit.ts';
import { CONFIG_OPTION, parseOpsArgs, resolveServeArgs } from './ops-args.ts';

export const INSTALL_HELP = `Usage: kirin install [PATH[:EXPORT]] [options]

Writes a systemd service (and with --socket, socket units) that runs
\`kirin serve\` for this config: Type=notify, reload with HUP, restart on
failure, its own user, the capability for ports below 1024, and a hardened
sandbox. Then prints the systemctl and journalctl commands to use.

Options:
  -c, --config FILE    config file (default: kirin.config.{ts,mts,js,mjs,json} here)
  -u, --user NAME      the user the service runs as (default: kirin)
      --group NAME     its group (default: the user's primary group)
      --create-user    create the user as a system user if it does not exist
      --name NAME      unit name and state folder /var/lib/NAME (default: kirin)
      --socket         socket activation: systemd binds the ports (kirin.socket)
      --writable DIR   a folder the app writes to (repeatable; the rest is read-only)
      --node PATH      the node binary (default: the one running this command)
      --unit-dir DIR   where to write the units (default ${DEFAULT_UNIT_DIR})
      --dry-run        print the units instead of writing them
  -h, --help           this help
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOpsArgs(
    argv,
    {
      ...CONFIG_OPTION,
      user: { type: 'string', short: 'u' },
      group: { type: 'string' },
      'create-user': { type: 'boolean' },
      name: { type: 'string' },
      socket: { type: 'boolean' },
      writable: { type: 'string', multiple: true },
      node: { type: 'string' },
      'unit-dir': { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
    INSTALL_HELP,
  );
  if (values.help) {
    process.stdout.write(INSTALL_HELP);
    return ExitCode.OK;
  }
  const cwd = process.cwd();
  const name = values.name ?? 'kirin';
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.@-]*$/.test(name)) throw new KirinError('KIRIN_ERR_USAGE', `--name: "${name}" is not a unit name (letters, digits, "-", "_", ".", "@")`);
  const dryRun = values['dry-run'] === true;
  const args = resolveServeArgs(values.config, positionals[0], cwd, INSTALL_HELP);

  // The plan as the service will see it: systemd sets STATE_DIRECTORY, so state and certificates live in /var/lib/NAME.
  const env = { ...process.env, STATE_DIRECTORY: stateDirectoryPath(name) };
  const raw = args.configFile ? await loadConfigFile(args.configFile) : {};
  const plan = normalizeConfig({ raw, file: args.configFile, cwd, app: args.app, overrides: args.overrides, env });

  const userName = values.user ?? 'kirin';
  const user = await lookUpUser(userName, runCommand);
  const createUser = !user.exists && values['create-user'] ? createUserCommand(userName, stateDirectoryPath(name)) : null;
  if (!user.exists && !createUser) {
    const message = `the user "${userName}" does not exist: add --create-user to create it as a system user, or pass --user NAME`;
    if (!dryRun) throw new KirinError('KIRIN_ERR_USAGE', message);
    process.stderr.write(`kirin: warning: ${message}\n`);
  }
  const group = values.group ?? user.group ?? (createUser ? userName : null);

  const workingDirectory = args.configFile ? dirname(args.configFile) : cwd;
  const served = args.configFile ?? resolve(cwd, args.app!);
  const serveArgs = args.configFile ? ['--config', args.configFile] : [served];
  const nodePath = values.node ? resolve(values.node) : process.execPath;
  const kirinBin = kirinBinPath();
  for (const warning of accessWarnings(user, group, { nodePath, kirinBin, served, workingDirectory })) process.stderr.write(`kirin: warning: ${warning}\n`);
  const units = buildUnits({
    name,
    plan,
    serveArgs,
    workingDirectory,
    nodePath,
    kirinBin,
    user: userName,
    group,
    socket: values.socket === true,
    stateDirExplicit: isPlainObject(raw) && raw.stateDir !== undefined,
    writable: (values.writable ?? []).map((p) => resolve(cwd, p)),
  });

  const unitDir = values['unit-dir'] ? resolve(cwd, values['unit-dir']) : DEFAULT_UNIT_DIR;
  const owner = group ? `${userName}:${group}` : userName;
  const written = await performInstall({
    unitDir,
    files: units.files,
    createUser,
    createFolders: missingFolders(units.readWritePaths, owner),
    dryRun,
    run: runCommand,
    print: (text) => process.stdout.write(text),
  });
  for (const path of written) process.stdout.write(`wrote ${path}\n`);
  for (const note of units.notes) process.stdout.write(`note: ${note}\n`);
  process.stdout.write(`\n${nextSteps(name, values.socket === true, dryRun)}`);
  return ExitCode.OK;
}

/** What the service user could not run or read: each one would fail every start of the unit. */
function accessWarnings(user: ServiceUser, group: string | null, paths: { nodePath: string; kirinBin: string; served: string; workingDirectory: string }): string[] {
  if (user.uid === 0) return [];
  const who = `the user "${user.name}"${user.exists ? '' : ' (not created yet)'}`;
  const letGroupRead = `sudo chgrp -R ${group ?? user.name} ${paths.workingDirectory} && sudo chmod -R g+rX ${paths.workingDirectory}`;
  const checks: [path: string, need: Need, what: string, fix: string][] = [
    [paths.nodePath, 'execute', 'run Node at', 'install Node system-wide (docs/production.md, step 5: /usr/bin/node) or pass --node PATH to one it can run'],
    [paths.kirinBin, 'read', 'read Kirin at', `keep the app and its node_modules outside home folders (e.g. in /srv) and let the group read them: ${letGroupRead}`],
    [paths.served, 'read', 'read', `let the group read the site: ${letGroupRead}`],
  ];
  const warnings: string[] = [];
  for (const [path, need, what, fix] of checks) {
    const problem = accessProblem(path, { uid: user.uid, gids: user.gids }, need);
    if (problem) warnings.push(`${who} cannot ${what} ${path}: it ${problem}; ${fix}`);
  }
  return warnings;
}

/** The kirin entry point this command runs from (node_modules/.bin/kirin resolves to dist/cli/bin.js). */
function kirinBinPath(): string {
  const script = process.argv[1];
  if (script) {
    try {
      const real = realpathSync(script);
      if (/^bin\.(js|ts)$/.test(basename(real))) return real;
    } catch {
      // Fall through to this module's neighbour.
    }
  }
  return fileURLToPath(new URL('./bin.js', import.meta.url));
}
