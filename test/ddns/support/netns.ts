/**
 * Network namespaces for the address tests: a namespace (kn-<random>) with a
 * veth pair whose addresses, default routes and IPv6 flags the test sets, and
 * a way to run a Node script inside it. Removed in `after`.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Netns {
  name: string;
  /** `ip -n NAME …` */
  ip(...args: string[]): Promise<void>;
  /** `sysctl -w` inside the namespace. */
  sysctl(setting: string): Promise<void>;
  /** Runs `node script args…` inside the namespace; resolves with its stdout. */
  node(script: string, args: string[]): Promise<string>;
  remove(): Promise<void>;
}

/** A namespace with loopback up and a veth pair kn0 ↔ kn1, both inside it (nothing touches the host's network). */
export async function createNetns(): Promise<Netns> {
  const name = `kn-${randomBytes(4).toString('hex')}`;
  await run('ip', ['netns', 'add', name]);
  const ns: Netns = {
    name,
    ip: async (...args) => {
      await run('ip', ['-n', name, ...args]);
    },
    sysctl: async (setting) => {
      await run('ip', ['netns', 'exec', name, 'sysctl', '-qw', setting]);
    },
    node: (script, args) =>
      new Promise((resolve, reject) => {
        const child = spawn('ip', ['netns', 'exec', name, process.execPath, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c));
        child.stderr.on('data', (c: Buffer) => (err += c));
        child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${script} exited with ${code}:\n${err}${out}`))));
      }),
    remove: async () => {
      await run('ip', ['netns', 'delete', name]).catch(() => {});
    },
  };
  try {
    await ns.ip('link', 'set', 'lo', 'up');
    await ns.ip('link', 'add', 'kn0', 'type', 'veth', 'peer', 'name', 'kn1');
    // No duplicate address detection: addresses are usable (not "tentative") as soon as they are added.
    for (const dev of ['kn0', 'kn1']) await ns.sysctl(`net.ipv6.conf.${dev}.accept_dad=0`);
    await ns.ip('link', 'set', 'kn0', 'up');
    await ns.ip('link', 'set', 'kn1', 'up');
  } catch (error) {
    await ns.remove();
    throw error;
  }
  return ns;
}
