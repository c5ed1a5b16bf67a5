/**
 * `kirin relay init --push`: carry the VPS's half of the relay there over SSH,
 * with the same OpenSSH client (and so the same ~/.ssh/config, agent and
 * known_hosts) `kirin deploy` uses. The files travel on ssh's stdin, never on
 * a command line, so the WireGuard private key shows up in no process list.
 *
 * On the VPS: the files land in ~/kirin-relay (0700; the WireGuard config
 * 0600). When the SSH user is root or may sudo without a password, the
 * WireGuard config is installed in /etc/wireguard (an existing, different
 * one is left alone) and the tunnel brought up with systemd's wg-quick@ unit.
 * Whatever could not be done there is returned as the commands still to run.
 */
import { KirinError } from '../errors.ts';
import type { HostSpec } from '../deploy/host-spec.ts';
import { command, fact, readFacts, shellQuote } from '../deploy/shell.ts';
import { SshHost } from '../deploy/ssh.ts';

export const REMOTE_DIR = 'kirin-relay';

export interface PushFile {
  /** File name inside the remote folder. */
  name: string;
  content: string;
  secret: boolean;
}

export interface PushResult {
  /** The folder the files landed in, as the host's shell sees it. */
  remoteDir: string;
  /** What happened to the WireGuard interface. */
  wireguard: 'up' | 'installed' | 'exists' | 'no-root' | 'no-wg-quick';
  /** Commands the user still has to run on the VPS. */
  remaining: string[];
}

export async function pushVpsFiles(spec: HostSpec, sshConfig: string | null, files: PushFile[], interfaceName: string): Promise<PushResult> {
  const host = new SshHost(spec, sshConfig);
  try {
    await host.connect();
    const made = await host.run(`umask 077 && mkdir -p ${REMOTE_DIR} && chmod 700 ${REMOTE_DIR} && cd ${REMOTE_DIR} && ${fact('dir', '$(pwd)')}`);
    if (made.code !== 0) throw new KirinError('KIRIN_ERR_DEPLOY', `${spec.label}: cannot make ~/${REMOTE_DIR}: ${made.stderr.trim() || `exit ${made.code}`}`);
    const remoteDir = readFacts(made.stdout).dir ?? `~/${REMOTE_DIR}`;
    for (const file of files) {
      const path = `${REMOTE_DIR}/${file.name}`;
      // Written beside and renamed, so a dropped connection leaves no half file.
      const written = await host.run(`umask ${file.secret ? '077' : '022'} && cat > ${shellQuote(`${path}.part`)} && mv -f ${shellQuote(`${path}.part`)} ${shellQuote(path)}`, { input: file.content });
      if (written.code !== 0) throw new KirinError('KIRIN_ERR_DEPLOY', `${spec.label}: cannot write ~/${path}: ${written.stderr.trim() || `exit ${written.code}`}`);
    }
    const installed = await host.run(installWireGuardScript(interfaceName));
    if (installed.code !== 0) throw new KirinError('KIRIN_ERR_DEPLOY', `${spec.label}: installing the WireGuard config failed: ${installed.stderr.trim() || `exit ${installed.code}`}`);
    const wireguard = (readFacts(installed.stdout).wireguard ?? 'no-root') as PushResult['wireguard'];
    return { remoteDir, wireguard, remaining: remainingCommands(wireguard, remoteDir, interfaceName) };
  } finally {
    host.close();
  }
}

/** The sh script that installs the config and brings the tunnel up, when it may; it reports what it did as a fact. */
function installWireGuardScript(iface: string): string {
  const local = `${REMOTE_DIR}/${iface}.conf`;
  const target = `/etc/wireguard/${iface}.conf`;
  return [
    `if [ "$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO='sudo -n'; else ${fact('wireguard', 'no-root')}; exit 0; fi`,
    `if ! command -v wg-quick >/dev/null 2>&1; then ${fact('wireguard', 'no-wg-quick')}; exit 0; fi`,
    // Never replace a tunnel that is configured differently: it may be in use.
    `if [ -e ${target} ] && ! $SUDO cmp -s ${local} ${target}; then ${fact('wireguard', 'exists')}; exit 0; fi`,
    'set -e',
    `$SUDO install -d -m 700 /etc/wireguard`,
    `$SUDO install -m 600 ${local} ${target}`,
    `if [ -d /run/systemd/system ]; then $SUDO ${command('systemctl', 'enable', '--now', `wg-quick@${iface}`)} >/dev/null; ${fact('wireguard', 'up')}; else ${fact('wireguard', 'installed')}; fi`,
  ].join('\n');
}

function remainingCommands(wireguard: PushResult['wireguard'], dir: string, iface: string): string[] {
  const install = `sudo install -m 600 ${dir}/${iface}.conf /etc/wireguard/${iface}.conf`;
  const up = `sudo systemctl enable --now wg-quick@${iface}    # or, without systemd: sudo wg-quick up ${iface}`;
  const wireguardSteps: Record<PushResult['wireguard'], string[]> = {
    up: [],
    installed: [`sudo wg-quick up ${iface}    # systemd is not running there`],
    exists: [`# /etc/wireguard/${iface}.conf already exists and differs; compare it with ${dir}/${iface}.conf, then`, install, up],
    'no-root': [install, up],
    'no-wg-quick': ['sudo apt install wireguard-tools', install, up],
  };
  return [
    ...wireguardSteps[wireguard],
    `cd ${dir} && npm install kirin`,
    'sudo npx kirin install --config kirin.config.json --create-user    # then the commands it prints',
    'npx kirin check --deploy --config kirin.config.json',
  ];
}
