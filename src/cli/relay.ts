/**
 * `kirin relay init --vps HOST` — make the files for a relay on a VPS and the
 * home server behind it (docs/relay.md), and print what to run on each.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { isPlainObject } from '../config/issues.ts';
import { findConfigFile, loadConfigFile } from '../config/load.ts';
import { normalizeConfig } from '../config/normalize.ts';
import { ExitCode, KirinError } from '../errors.ts';
import { isPublicHostName } from '../ops/check/sites.ts';
import { parseHostSpec } from '../deploy/host-spec.ts';
import { generateWireGuardKeys, renderRelayFiles, tunnelAddresses } from '../relay/init.ts';
import { pushVpsFiles, type PushResult } from '../relay/push.ts';
import { integerFlag, parseOpsArgs } from './ops-args.ts';

export const RELAY_HELP = `Usage: kirin relay init --vps HOST [options]

Run at home. Makes a WireGuard key pair for each end and writes, under --out:

  vps/IFACE.conf          WireGuard on the VPS (private key: 0600)
  vps/kirin.config.json   Kirin on the VPS: relay ports 80 and 443 to home
  home/IFACE.conf         WireGuard at home (private key: 0600)
  home/kirin.relay.json   the keys to add to the home kirin.config

then prints the commands to run on each machine. Nothing is sent anywhere,
unless --push says to carry the VPS's files there over SSH.

Options:
      --vps HOST        the VPS's public name or address (home dials it)
      --out DIR         where to write (default: ./relay); must not exist yet
      --subnet CIDR     the tunnel's private IPv4 range (default 10.77.0.0/24;
                        the VPS gets .1, home .2)
      --port N          WireGuard's UDP port on the VPS (default 51820)
      --interface NAME  WireGuard interface name on both machines (default kirin0)
      --names LIST      names the relay forwards, comma-separated (default: the
                        public names of the sites in the home config, if found)
  -c, --config FILE     the home config to read site names from
      --push            copy vps/ to ~/kirin-relay on the VPS over SSH; as root (or
                        with passwordless sudo) also install the WireGuard config
                        and bring the tunnel up (systemd's wg-quick@IFACE)
      --ssh DEST        where --push connects: user@host[:port] or a name from
                        ~/.ssh/config (default: the --vps value)
      --ssh-config FILE an ssh config for --push instead of ~/.ssh/config
  -h, --help            this help
`;

const DEFAULT_SUBNET = '10.77.0.0/24';
const DEFAULT_PORT = 51820;
const DEFAULT_INTERFACE = 'kirin0';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOpsArgs(
    argv,
    {
      vps: { type: 'string' },
      out: { type: 'string' },
      subnet: { type: 'string' },
      port: { type: 'string' },
      interface: { type: 'string' },
      names: { type: 'string' },
      config: { type: 'string', short: 'c' },
      push: { type: 'boolean' },
      ssh: { type: 'string' },
      'ssh-config': { type: 'string' },
    },
    RELAY_HELP,
  );
  if (values.help) {
    process.stdout.write(RELAY_HELP);
    return ExitCode.OK;
  }
  if (positionals[0] !== 'init') throw new KirinError('KIRIN_ERR_USAGE', `${positionals[0] === undefined ? 'missing the subcommand' : `unknown subcommand "${positionals[0]}"`}: kirin relay init --vps HOST\n\n${RELAY_HELP}`);
  const vps = values.vps;
  if (vps === undefined || !/^(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:.]+|[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*)$/.test(vps)) {
    throw new KirinError('KIRIN_ERR_USAGE', `--vps: ${vps === undefined ? 'missing' : `"${vps}" is not a host name or address`}; give the VPS's public name or address, e.g. --vps relay.example.com`);
  }
  const subnet = values.subnet ?? DEFAULT_SUBNET;
  const tunnel = tunnelAddresses(subnet);
  if (typeof tunnel === 'string') throw new KirinError('KIRIN_ERR_USAGE', `--subnet: ${tunnel}`);
  const port = integerFlag('--port', values.port, DEFAULT_PORT, 1, 65535);
  const interfaceName = values.interface ?? DEFAULT_INTERFACE;
  // wg-quick names the interface after the file; Linux allows 15 characters.
  if (!/^[a-zA-Z0-9_=+.-]{1,15}$/.test(interfaceName)) throw new KirinError('KIRIN_ERR_USAGE', `--interface: "${interfaceName}" is not an interface name (1 to 15 letters, digits, "_", "=", "+", ".", "-")`);
  if (!values.push && (values.ssh !== undefined || values['ssh-config'] !== undefined)) throw new KirinError('KIRIN_ERR_USAGE', `${values.ssh !== undefined ? '--ssh' : '--ssh-config'}: only used with --push`);
  const pushTo = values.push ? parseHostSpec(values.ssh ?? vps) : null;
  if (typeof pushTo === 'string') throw new KirinError('KIRIN_ERR_USAGE', `${values.ssh !== undefined ? '--ssh' : '--vps'}: ${pushTo}`);
  const cwd = process.cwd();
  const sshConfig = values['ssh-config'] !== undefined ? resolve(cwd, values['ssh-config']) : null;
  if (sshConfig !== null && !existsSync(sshConfig)) throw new KirinError('KIRIN_ERR_USAGE', `--ssh-config: ${sshConfig} does not exist`);
  const out = resolve(cwd, values.out ?? 'relay');
  if (existsSync(out)) throw new KirinError('KIRIN_ERR_USAGE', `--out: ${out} already exists; choose another folder or remove it (it may hold the keys of a tunnel in use)`);
  const names = values.names !== undefined ? values.names.split(',').map((n) => n.trim().toLowerCase()).filter(Boolean) : await namesFromHomeConfig(values.config, cwd);

  const files = renderRelayFiles({ vps, subnet, port, interfaceName, names: names && names.length > 0 ? names : null, ports: [80, 443] }, generateWireGuardKeys(), generateWireGuardKeys());
  mkdirSync(out, { recursive: true, mode: 0o700 });
  chmodSync(out, 0o700);
  for (const file of files.files) {
    const path = join(out, file.path);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, file.content, { mode: file.secret ? 0o600 : 0o644, flag: 'wx' });
  }
  const shown = relative(cwd, out) || '.';
  let vpsSteps = vpsInstructions(shown, vps, interfaceName, port);
  if (pushTo) {
    const vpsFiles = files.files.filter((f) => f.path.startsWith('vps/')).map((f) => ({ name: f.path.slice('vps/'.length), content: f.content, secret: f.secret }));
    const pushed = await pushVpsFiles(pushTo, sshConfig, vpsFiles, interfaceName).catch((error: unknown) => {
      const why = error instanceof Error ? error.message : String(error);
      throw new KirinError('KIRIN_ERR_DEPLOY', `--push: ${why}\nThe files are written in ${shown}/: copy ${shown}/vps to the VPS by hand (scp -r ${shown}/vps ${vps}:kirin-relay), or remove ${shown} and run again.`);
    });
    vpsSteps = pushedInstructions(pushTo.label, pushed, interfaceName, port);
  }
  process.stdout.write(instructions(shown, interfaceName, files.vpsAddress, files.homeAddress, names, vpsSteps));
  return ExitCode.OK;
}

/** The public site names of the home config, when there is one to read; null otherwise. */
async function namesFromHomeConfig(config: string | undefined, cwd: string): Promise<string[] | null> {
  const file = config !== undefined ? resolve(cwd, config) : findConfigFile(cwd);
  if (!file) return null;
  try {
    const raw = await loadConfigFile(file);
    const plan = normalizeConfig({ raw: isPlainObject(raw) ? raw : {}, file, cwd, env: process.env });
    const names = plan.sites.flatMap((s) => s.hosts).filter(isPublicHostName);
    return names.length > 0 ? [...new Set(names)] : null;
  } catch (error) {
    if (config !== undefined) throw error;
    return null;
  }
}

function vpsInstructions(out: string, vps: string, iface: string, port: number): string {
  return `On the VPS (${vps}): copy ${out}/vps there (scp -r ${out}/vps ${vps}:kirin-relay, or run again with --push), then
  sudo apt install wireguard-tools
  sudo install -m 600 kirin-relay/${iface}.conf /etc/wireguard/${iface}.conf
  sudo systemctl enable --now wg-quick@${iface}
  ${FIREWALL(port)}
  cd kirin-relay && npm install kirin
  sudo npx kirin install --config kirin.config.json --create-user    # then the commands it prints
  npx kirin check --deploy --config kirin.config.json
`;
}

function pushedInstructions(label: string, pushed: PushResult, iface: string, port: number): string {
  const done = {
    up: `WireGuard config installed in /etc/wireguard/${iface}.conf and the tunnel is up (wg-quick@${iface}, enabled)`,
    installed: `WireGuard config installed in /etc/wireguard/${iface}.conf`,
    exists: `/etc/wireguard/${iface}.conf was already there and differs: left alone`,
    'no-root': 'not root there and no passwordless sudo: WireGuard is not installed yet',
    'no-wg-quick': 'wg-quick is not installed there',
  }[pushed.wireguard];
  return `On the VPS (${label}): copied to ${pushed.remoteDir} (WireGuard config 0600); ${done}. Still to run there:
${[...pushed.remaining, FIREWALL(port)].map((line) => `  ${line}`).join('\n')}
`;
}

const FIREWALL = (port: number) => `sudo ufw allow ${port}/udp && sudo ufw allow 80,443/tcp    # if ufw is on`;

function instructions(out: string, iface: string, vpsAddress: string, homeAddress: string, names: string[] | null, vpsSteps: string): string {
  return `Wrote ${out}/ (WireGuard private keys in ${out}/vps/${iface}.conf and ${out}/home/${iface}.conf, mode 0600).
Tunnel: VPS ${vpsAddress}, home ${homeAddress}; the relay forwards ports 80 and 443 ${names ? `for ${names.join(', ')}` : 'for every name (add --names to limit it)'}.

${vpsSteps}
At home:
  sudo install -m 600 ${out}/home/${iface}.conf /etc/wireguard/${iface}.conf
  sudo systemctl enable --now wg-quick@${iface}
  # add the keys of ${out}/home/kirin.relay.json to kirin.config.ts
  # (keep your LAN addresses in listen if you serve the LAN directly), then:
  npx kirin check --deploy
  npx kirin reload

Point the DNS names of your sites at the VPS's public address. Certificates
are still issued and renewed at home: ACME reaches it through the relay.
`;
}
