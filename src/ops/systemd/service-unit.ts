/**
 * The units `kirin install` writes: kirin.service (Type=notify, hardened) and,
 * for socket activation, kirin.socket (+ kirin-https.socket: the descriptor
 * name tells Kirin which sockets serve TLS, see src/master/systemd.ts).
 */
import { dirname } from 'node:path';
import type { ListenAddress, ServePlan } from '../../config/plan.ts';
import { MASTER_V8_FLAGS } from '../../runtime.ts';
import { VERSION } from '../../version.ts';
import { isInside } from '../check/env-files.ts';
import { INSTALL_MARK } from './installed-unit.ts';
import { quoteUnitWord, renderUnit, type UnitSection } from './unit-file.ts';

export interface ServiceUnitOptions {
  /** The unit's name without suffix; also the StateDirectory name. */
  name: string;
  /** The plan as the service will build it (normalized with STATE_DIRECTORY=/var/lib/<name>). */
  plan: ServePlan;
  /** `serve`'s arguments after `serve`: ['--config', '/srv/app/kirin.config.ts'] or ['/srv/app/app.ts']. */
  serveArgs: string[];
  workingDirectory: string;
  nodePath: string;
  kirinBin: string;
  user: string;
  group: string | null;
  socket: boolean;
  /** The config sets stateDir itself (StateDirectory= then does not decide it). */
  stateDirExplicit: boolean;
  /** Extra folders the app writes to (uploads, a SQLite file's folder). */
  writable: string[];
}

export interface UnitFile {
  name: string;
  text: string;
}

export interface GeneratedUnits {
  files: UnitFile[];
  /** Decisions a person should know about (ProtectHome relaxed, capability granted …). */
  notes: string[];
  /** The folders ReadWritePaths= opens; they must exist before the service starts. */
  readWritePaths: string[];
}

// Folders ProtectHome= hides; an app, Node or env file under them needs read-only instead.
const HOME_FOLDERS = ['/home', '/root', '/run/user'];
const STOP_MARGIN_SECONDS = 10;

export function stateDirectoryPath(name: string): string {
  return `/var/lib/${name}`;
}

export function buildUnits(options: ServiceUnitOptions): GeneratedUnits {
  const { plan, name } = options;
  const notes: string[] = [];
  const isRoot = options.user === 'root' || options.user === '0';
  const stateDir = stateDirectoryPath(name);

  const writable = new Set<string>();
  if (options.stateDirExplicit || !isInside(stateDir, plan.stateDir)) writable.add(plan.stateDir);
  if (!isInside(plan.stateDir, plan.tls.storage)) writable.add(plan.tls.storage);
  if (plan.accessLog !== null && plan.accessLog !== '-') writable.add(dirname(plan.accessLog));
  if (plan.pidFile) writable.add(dirname(plan.pidFile));
  for (const address of allListenAddresses(plan)) if (address.kind === 'unix') writable.add(dirname(address.path));
  for (const path of options.writable) writable.add(path);
  const readWritePaths = [...writable].filter((path) => ![...writable].some((other) => other !== path && isInside(other, path))).sort();

  const lowPorts = options.socket ? [] : [...new Set(allListenAddresses(plan).filter((a) => a.kind === 'tcp' && a.port > 0 && a.port < 1024).map((a) => a.port))];
  const needsBindCapability = lowPorts.length > 0 && !isRoot;
  if (needsBindCapability) notes.push(`${lowPorts.length === 1 ? 'port' : 'ports'} ${lowPorts.join(', ')} ${lowPorts.length === 1 ? 'is' : 'are'} below 1024: the unit grants CAP_NET_BIND_SERVICE (and no other capability) instead of running as root`);

  const readPaths = [options.workingDirectory, options.nodePath, options.kirinBin, ...plan.envFiles, ...readWritePaths, ...(plan.configFile ? [plan.configFile] : [])];
  const underHome = readPaths.filter((p) => HOME_FOLDERS.some((home) => isInside(home, p)));
  const protectHome = underHome.length > 0 ? 'read-only' : 'yes';
  if (underHome.length > 0) {
    notes.push(`${underHome[0]} is under ${HOME_FOLDERS.find((h) => isInside(h, underHome[0]!))}: ProtectHome=read-only instead of yes (home folders stay readable, not writable). Moving the app to /srv or /opt lets the unit hide them entirely`);
  }

  // PrivateTmp= gives the service an empty /tmp: an app that lives there would vanish.
  const inTmp = readPaths.some((p) => isInside('/tmp', p) || isInside('/var/tmp', p));
  if (inTmp) notes.push('the app is under /tmp or /var/tmp: PrivateTmp= is off (it would hide the app from the service); move it to /srv or /opt');

  const stopSeconds = Math.ceil(plan.gracefulTimeoutMs / 1000) + Math.ceil(Math.max(0, ...Object.values(plan.services).map((s) => s.stopTimeoutMs)) / 1000) + STOP_MARGIN_SECONDS;
  // The master's flags written out: with socket activation the CLI cannot re-execute itself to add them (bin.ts).
  const execStart = [options.nodePath, ...MASTER_V8_FLAGS, options.kirinBin, 'serve', ...options.serveArgs].map(quoteUnitWord).join(' ');
  const socketUnits = options.socket ? socketUnitNames(name, plan) : [];

  const unit: UnitSection = {
    name: 'Unit',
    entries: [
      ['Description', `Kirin: ${plan.configFile ?? options.serveArgs.at(-1)}`],
      ['Documentation', 'https://www.npmjs.com/package/kirin'],
      ['After', 'network-online.target'],
      ['Wants', 'network-online.target'],
      ...socketUnits.flatMap((s): [string, string][] => [
        ['Requires', s],
        ['After', s],
      ]),
      // A config or app that cannot load fails the same way every time; give up after 10 tries a minute.
      ['StartLimitIntervalSec', '60'],
      ['StartLimitBurst', '10'],
    ],
  };
  const service: UnitSection = {
    name: 'Service',
    entries: [
      // The master sends READY=1 through systemd-notify on its own behalf: NotifyAccess=all lets that through.
      ['Type', 'notify'],
      ['NotifyAccess', 'all'],
      ['ExecStart', execStart],
      ['ExecReload', '/bin/kill -HUP $MAINPID'],
      // Only the master gets SIGTERM; it drains its workers and services, and systemd kills leftovers at the end.
      ['KillMode', 'mixed'],
      ['KillSignal', 'SIGTERM'],
      ['TimeoutStopSec', String(stopSeconds)],
      ['Restart', 'always'],
      ['RestartSec', '2'],
      // 2: bad command line; 4: the app throws at import. Restarting fixes neither.
      ['RestartPreventExitStatus', '2 4'],
      ['User', options.user],
      ...(options.group ? [['Group', options.group] as [string, string]] : []),
      ['WorkingDirectory', options.workingDirectory],
      ['Environment', 'NODE_ENV=production'],
      ...plan.envFiles.map((file): [string, string] => ['EnvironmentFile', file]),
      ...socketUnits.length > 0 ? [['Sockets', socketUnits.join(' ')] as [string, string]] : [],
      ['SyslogIdentifier', name],
      ['LimitNOFILE', '65536'],
      // Kirin keeps its control socket, certificates and locks here ($STATE_DIRECTORY).
      ['StateDirectory', name],
      ['StateDirectoryMode', '0700'],
      ['UMask', '0027'],
      ...(needsBindCapability
        ? ([
            ['AmbientCapabilities', 'CAP_NET_BIND_SERVICE'],
            ['CapabilityBoundingSet', 'CAP_NET_BIND_SERVICE'],
          ] as [string, string][])
        : isRoot
          ? []
          : ([['CapabilityBoundingSet', '']] as [string, string][])),
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ...(readWritePaths.length > 0 ? [['ReadWritePaths', readWritePaths.map(quoteUnitWord).join(' ')] as [string, string]] : []),
      ['ProtectHome', protectHome],
      ['PrivateTmp', inTmp ? 'no' : 'yes'],
      ['PrivateDevices', 'yes'],
      ['ProtectKernelTunables', 'yes'],
      ['ProtectKernelModules', 'yes'],
      ['ProtectKernelLogs', 'yes'],
      ['ProtectControlGroups', 'yes'],
      ['ProtectClock', 'yes'],
      ['ProtectHostname', 'yes'],
      ['RestrictSUIDSGID', 'yes'],
      ['RestrictRealtime', 'yes'],
      ['RestrictNamespaces', 'yes'],
      ['LockPersonality', 'yes'],
      ['RestrictAddressFamilies', 'AF_UNIX AF_INET AF_INET6 AF_NETLINK'],
      ['SystemCallArchitectures', 'native'],
      // No MemoryDenyWriteExecute: V8's JIT writes machine code at run time.
    ],
  };
  const install: UnitSection = { name: 'Install', entries: [['WantedBy', 'multi-user.target']] };
  const header = [
    `${INSTALL_MARK} (Kirin ${VERSION}). Change it with \`systemctl edit ${name}\`,`,
    'or run kirin install again after changing the config (ports, env files, log files).',
    'Docs: docs/systemd.md',
  ];
  const files: UnitFile[] = [{ name: `${name}.service`, text: renderUnit(header, [unit, service, install]) }];
  if (options.socket) files.push(...buildSocketUnits(name, plan, header));
  return { files, notes, readWritePaths };
}

function allListenAddresses(plan: ServePlan): ListenAddress[] {
  return [...plan.listen.http, ...plan.listen.https, ...(plan.admin ? [plan.admin.listen] : [])];
}

function socketUnitNames(name: string, plan: ServePlan): string[] {
  return socketGroups(name, plan).map((g) => g.file);
}

interface SocketGroup {
  /** LISTEN_FDNAMES entry: Kirin serves TLS on names with "https" and expects a PROXY header on names with "proxy". */
  fdName: 'http' | 'https' | 'http-proxy' | 'https-proxy';
  file: string;
  addresses: ListenAddress[];
}

/** One socket unit per kind of listener, so the descriptor's name tells Kirin how to serve it. */
function socketGroups(name: string, plan: ServePlan): SocketGroup[] {
  const bound = (addresses: ListenAddress[], proxy: boolean) => addresses.filter((a) => a.kind !== 'fd' && Boolean(a.proxyProtocol) === proxy);
  const groups: SocketGroup[] = [
    { fdName: 'http', file: `${name}.socket`, addresses: bound(plan.listen.http, false) },
    { fdName: 'https', file: `${name}-https.socket`, addresses: bound(plan.listen.https, false) },
    { fdName: 'http-proxy', file: `${name}-proxy.socket`, addresses: bound(plan.listen.http, true) },
    { fdName: 'https-proxy', file: `${name}-https-proxy.socket`, addresses: bound(plan.listen.https, true) },
  ];
  return groups.filter((g) => g.addresses.length > 0);
}

/** systemd's ListenStream= form of a listen address. */
export function listenStream(address: ListenAddress): string {
  if (address.kind === 'unix') return address.path;
  if (address.host === '') return String(address.port);
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function buildSocketUnits(name: string, plan: ServePlan, header: string[]): UnitFile[] {
  return socketGroups(name, plan).map(({ fdName, file, addresses }) => {
    const socket: UnitSection = {
      name: 'Socket',
      entries: [
        ...addresses.map((a): [string, string] => ['ListenStream', listenStream(a)]),
        // Kirin reads LISTEN_FDNAMES: "https" serves TLS, "proxy" expects a PROXY protocol header.
        ['FileDescriptorName', fdName],
        ['Service', `${name}.service`],
        ['Backlog', '511'],
        ['NoDelay', 'yes'],
      ],
    };
    return {
      name: file,
      text: renderUnit(header, [{ name: 'Unit', entries: [['Description', `Kirin ${fdName} sockets for ${name}.service`]] }, socket, { name: 'Install', entries: [['WantedBy', 'sockets.target']] }]),
    };
  });
}
