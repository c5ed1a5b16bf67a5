/**
 * Installing the host's systemd service for a deployed app, as root: the unit
 * `kirin install` writes (hardened, Type=notify, reload on HUP), and a drop-in
 * that starts Kirin through `current` so every restart runs the current
 * release's Kirin — the unit's own ExecStart names the release it was written
 * from, which a later prune removes.
 */
import type { DeployPlan } from './config.ts';
import type { HostLayout } from './layout.ts';
import { command } from './shell.ts';

export const DROP_IN_NAME = 'kirin-deploy.conf';

/** The root commands, one per line, as setup runs them (sudo) or prints them. */
export function serviceInstallCommands(plan: DeployPlan, layout: HostLayout, user: string): string[] {
  const unit = `${plan.name}.service`;
  const dropInDir = `/etc/systemd/system/${unit}.d`;
  const config = layout.config(plan.configName);
  // Paths on the host are checked to hold no spaces or quotes (deploy.path), so they need no quoting in the unit.
  const execStart = `$(command -v node) ${layout.kirinBin} serve --config ${config}`;
  return [
    `node ${command(layout.kirinBin)} install --config ${command(config)} --user ${command(user)} --name ${command(plan.name)} --writable ${command(layout.shared)} --node "$(command -v node)"`,
    `mkdir -p ${command(dropInDir)}`,
    `printf '%s\\n' '[Service]' 'ExecStart=' "ExecStart=${execStart}" > ${command(`${dropInDir}/${DROP_IN_NAME}`)}`,
    'systemctl daemon-reload',
    `systemctl enable --now ${command(unit)}`,
  ];
}
