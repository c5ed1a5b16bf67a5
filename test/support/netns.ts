/**
 * Network namespaces for the relay tests: a "vps" and a "home" joined by a
 * veth pair (the path WireGuard runs over), each also joined to the test's own
 * namespace (the vps by its public link, where clients and Pebble are; home by
 * its ISP link, where it reaches the ACME API). WireGuard is Debian's
 * wireguard-go, configured from wg-quick files with `wg-quick strip`,
 * `wg setconf` and `ip` (wg-quick itself wants resolvconf and a real host).
 *
 * Names start with "kr" and a random suffix, so tests running at the same time
 * (and other engineers' tests) never share one; `close()` removes everything.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir, waitFor } from './kirin.ts';

const run = promisify(execFile);

/** Why these tests cannot run here, or null when they can. They fail with this reason: they never skip. */
export async function netnsUnavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'the relay tunnel tests need root (network namespaces, /dev/net/tun)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun: wireguard-go needs the TUN device (docker: --device /dev/net/tun)';
  for (const tool of ['ip', 'wireguard-go', 'wg', 'wg-quick']) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `${tool} is not installed (Debian packages iproute2, wireguard-go, wireguard-tools)`;
    }
  }
  const probe = `krp${randomBytes(3).toString('hex')}`;
  try {
    await run('ip', ['netns', 'add', probe]);
    await run('ip', ['netns', 'del', probe]);
  } catch (error) {
    return `\`ip netns add\` does not work here: ${(error as Error).message.split('\n')[0]}`;
  }
  return null;
}

export interface RelayNetwork {
  vps: string;
  home: string;
  /** root ↔ vps: the public internet as the VPS sees it. */
  publicRoot: string;
  publicVps: string;
  /** root ↔ home: the home's own internet access (for the ACME API). */
  ispRoot: string;
  ispHome: string;
  /** vps ↔ home: the path WireGuard's UDP takes. */
  underlayVps: string;
  underlayHome: string;
  /** `ip netns exec NS` as a command prefix. */
  prefix(ns: string): string[];
  exec(ns: string, command: string, args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** Starts wireguard-go as IFACE in NS, configured from a wg-quick file. */
  startWireGuard(ns: string, iface: string, wgQuickFile: string): Promise<void>;
  stopWireGuard(iface: string): Promise<void>;
  /** The wireguard-go processes running now (benchmarks count their CPU). */
  wireguardPids(): number[];
  close(): Promise<void>;
}

export async function createRelayNetwork(): Promise<RelayNetwork> {
  const id = randomBytes(2).toString('hex');
  const vps = `krv${id}`;
  const home = `krh${id}`;
  // Random /24s in 10/8, so namespaces made at the same time do not route over each other in the root namespace.
  const a = randomInt(100, 200);
  const b = randomInt(0, 250);
  const net = (n: number, host: number) => `10.${a}.${b + n}.${host}`;
  const dir = tempDir('kirin-netns-');
  const wireguards = new Map<string, ChildProcess>();
  const ip = (...args: string[]) => run('ip', args);
  const links: [string, string, string | null, string, string, string][] = [
    // [name A, name B, namespace B, namespace A ('' = root), address A, address B]
    [`kra${id}`, `krb${id}`, vps, '', net(0, 1), net(0, 2)],
    [`krc${id}`, `krd${id}`, home, '', net(1, 1), net(1, 2)],
    [`kre${id}`, `krf${id}`, home, vps, net(2, 1), net(2, 2)],
  ];
  const network: RelayNetwork = {
    vps,
    home,
    publicRoot: net(0, 1),
    publicVps: net(0, 2),
    ispRoot: net(1, 1),
    ispHome: net(1, 2),
    underlayVps: net(2, 1),
    underlayHome: net(2, 2),
    prefix: (ns) => ['ip', 'netns', 'exec', ns],
    exec: (ns, command, args) => run('ip', ['netns', 'exec', ns, command, ...args]),
    async startWireGuard(ns, iface, wgQuickFile) {
      const socket = `/var/run/wireguard/${iface}.sock`;
      const child = spawn('ip', ['netns', 'exec', ns, 'wireguard-go', '-f', iface], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      wireguards.set(iface, child);
      process.on('exit', () => child.kill('SIGKILL'));
      await waitFor(() => existsSync(socket) || child.exitCode !== null, { timeoutMs: 10_000, what: `wireguard-go to create ${socket}` });
      if (child.exitCode !== null) throw new Error(`wireguard-go ${iface} exited: ${stderr}`);
      const stripped = join(dir, `${iface}.wg`);
      writeFileSync(stripped, (await run('wg-quick', ['strip', wgQuickFile])).stdout, { mode: 0o600 });
      await run('ip', ['netns', 'exec', ns, 'wg', 'setconf', iface, stripped]);
      for (const line of readFileSync(wgQuickFile, 'utf8').split('\n')) {
        const match = /^\s*Address\s*=\s*(.+)$/i.exec(line);
        if (match) for (const address of match[1]!.split(',')) await ip('-n', ns, 'addr', 'add', address.trim(), 'dev', iface);
      }
      await ip('-n', ns, 'link', 'set', iface, 'up');
    },
    async stopWireGuard(iface) {
      const child = wireguards.get(iface);
      wireguards.delete(iface);
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
    wireguardPids: () => [...wireguards.values()].filter((c) => c.exitCode === null && c.pid !== undefined).map((c) => c.pid!),
    async close() {
      process.off('exit', removeOnExit);
      for (const iface of [...wireguards.keys()]) await network.stopWireGuard(iface);
      for (const ns of [vps, home]) await ip('netns', 'del', ns).catch(() => {});
      // A veth end in the root namespace goes with its peer; this is for a run that failed half-way.
      for (const [nameA] of links) await ip('link', 'del', nameA).catch(() => {});
    },
  };
  // A run ended by a signal (a bench's timeout, Ctrl-C) never reaches close(): the namespaces go on exit, synchronously.
  const removeOnExit = () => {
    for (const ns of [vps, home]) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {}
    }
  };
  process.on('exit', removeOnExit);
  try {
    for (const ns of [vps, home]) {
      await ip('netns', 'add', ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    for (const [nameA, nameB, nsB, nsA, addressA, addressB] of links) {
      await ip('link', 'add', nameA, 'type', 'veth', 'peer', 'name', nameB);
      if (nsA) await ip('link', 'set', nameA, 'netns', nsA);
      await ip('link', 'set', nameB, 'netns', nsB!);
      const inA = nsA ? ['-n', nsA] : [];
      await ip(...inA, 'addr', 'add', `${addressA}/24`, 'dev', nameA);
      await ip(...inA, 'link', 'set', nameA, 'up');
      await ip('-n', nsB!, 'addr', 'add', `${addressB}/24`, 'dev', nameB);
      await ip('-n', nsB!, 'link', 'set', nameB, 'up');
    }
  } catch (error) {
    await network.close();
    throw error;
  }
  return network;
}
