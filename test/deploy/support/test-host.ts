/**
 * A second machine for the deploy tests: a network namespace joined to this
 * one by a veth pair (its own address), a real OpenSSH server in it with its
 * own host key, a user the test creates (kd-<random>) and a client key the
 * test generates. Kirin, npm and the hooks run there as that user, exactly as
 * on a server, with Node 24 first on the PATH of its SSH sessions.
 *
 * The client side is a generated ssh config (-F): the test's key, and a
 * known_hosts file holding the host's real key — host keys stay checked.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { waitFor } from '../../support/kirin.ts';

export interface TestHostOptions {
  /** An npm cache to give the deploy user (the host has no route to the registry). */
  npmCache?: string;
  /** Create the deploy user now (false: the test lets `kirin deploy setup --as root` create it). */
  createUser?: boolean;
  /** Make rsync unavailable on the host (a mount namespace hides it). */
  hideRsync?: boolean;
  /** Mount a tmpfs of this size (e.g. '40m') on the deploy path, inside the host only. */
  diskSize?: string;
  /** Give the host its own empty /root and /etc/wireguard (tmpfs), so root's writes there stay inside it. */
  privateRoot?: boolean;
  /**
   * The app's folder on the host (default: one in the test's scratch folder).
   * With diskSize, hosts that name the same path each get a folder of their
   * own there, as separate machines would (they share this machine's disk).
   */
  path?: string;
}

export interface TestHost {
  /** The host's address in its namespace. */
  address: string;
  user: string;
  /** deploy.hosts entry: user@address. */
  spec: string;
  /** The app's folder on the host. */
  path: string;
  /** The generated ssh config (deploy.sshConfig). */
  sshConfig: string;
  knownHosts: string;
  /** The test's scratch folder (readable by the deploy user). */
  dir: string;
  ns: string;
  /** Runs a command on the host as root (inside its namespaces), returns stdout. */
  exec(command: string): string;
  /** Runs a command on the host as the deploy user over SSH, returns stdout. */
  ssh(command: string): string;
  /** Pids of processes in the host's network namespace. */
  pids(): number[];
  stop(): Promise<void>;
}

const NODE_DIR = dirname(process.execPath);

export async function startTestHost(options: TestHostOptions = {}): Promise<TestHost> {
  const rand = randomBytes(3).toString('hex');
  const ns = `kd-${rand}`;
  const user = `kd-${rand}`;
  const vethOut = `kd-${rand}a`;
  const vethIn = `kd-${rand}b`;
  const subnet = `10.${200 + (parseInt(rand.slice(0, 2), 16) % 50)}.${parseInt(rand.slice(2, 4), 16)}`;
  const hostOctet = 4 * (1 + (parseInt(rand.slice(4, 6), 16) % 60));
  const [ours, address] = [`${subnet}.${hostOctet + 1}`, `${subnet}.${hostOctet + 2}`];
  const dir = mkdtempSync(join(tmpdir(), 'kd-'));
  chmodSync(dir, 0o755);
  const path = options.path ?? join(dir, 'srv', 'app');
  let sshd: ChildProcess | null = null;
  let created = false;

  const cleanup = async () => {
    for (const pid of listPids(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    if (sshd && sshd.exitCode === null) sshd.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', ns]);
    spawnSync('ip', ['link', 'del', vethOut]);
    if (created || userExists(user)) {
      await waitFor(() => spawnSync('userdel', ['--remove', user], { stdio: 'ignore' }).status === 0 || !userExists(user), { timeoutMs: 10_000, what: `userdel ${user}` }).catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['link', 'add', vethOut, 'type', 'veth', 'peer', 'name', vethIn]);
    run('ip', ['link', 'set', vethIn, 'netns', ns]);
    run('ip', ['addr', 'add', `${ours}/30`, 'dev', vethOut]);
    run('ip', ['link', 'set', vethOut, 'up']);
    run('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `${address}/30`, 'dev', vethIn]);
    run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', vethIn, 'up']);
    run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);

    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `kd host ${rand}`, '-f', join(dir, 'host_key')]);
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `kd client ${rand}`, '-f', join(dir, 'id_ed25519')]);
    const clientKey = readFileSync(join(dir, 'id_ed25519.pub'), 'utf8');
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, `${address} ${readFileSync(join(dir, 'host_key.pub'), 'utf8')}`);
    mkdirSync(join(dir, 'authorized'), { mode: 0o755 });
    writeFileSync(join(dir, 'authorized', 'root'), clientKey);
    writeFileSync(join(dir, 'authorized', user), clientKey);
    chmodSync(join(dir, 'authorized', user), 0o644);

    if (options.createUser !== false) {
      run('useradd', ['--create-home', '--shell', '/bin/bash', user]);
      created = true;
      mkdirSync(path, { recursive: true });
      run('chown', ['-R', `${user}:`, options.path ?? join(dir, 'srv')]);
      if (options.npmCache) giveNpmCache(user, options.npmCache);
    }

    const sshdConfig = join(dir, 'sshd_config');
    writeFileSync(
      sshdConfig,
      [
        `ListenAddress ${address}:22`,
        `HostKey ${join(dir, 'host_key')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized')}/%u .ssh/authorized_keys`,
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        // The test's folders live under /tmp, which StrictModes would refuse for key files.
        'StrictModes no',
        'UsePAM yes',
        // Node 24 first: the system's node is 20 (the host needs 22.12 or newer).
        `SetEnv PATH=${NODE_DIR}:/usr/local/bin:/usr/bin:/bin`,
        'Subsystem sftp internal-sftp',
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
    const mounts: string[] = [];
    if (options.hideRsync) {
      writeFileSync(join(dir, 'no-rsync'), '');
      chmodSync(join(dir, 'no-rsync'), 0o644);
      mounts.push(`mount --bind ${join(dir, 'no-rsync')} /usr/bin/rsync`);
    }
    if (options.privateRoot) {
      mkdirSync('/etc/wireguard', { recursive: true, mode: 0o700 });
      mounts.push('mount -t tmpfs -o mode=0700 tmpfs /root', 'mount -t tmpfs -o mode=0700 tmpfs /etc/wireguard');
    }
    if (options.diskSize) mounts.push(`mount -t tmpfs -o size=${options.diskSize},mode=0755 tmpfs ${path} && chown ${user}: ${path}`);
    const sshdCommand = `/usr/sbin/sshd -D -e -f ${sshdConfig}`;
    mkdirSync('/run/sshd', { recursive: true });
    sshd = spawn('ip', ['netns', 'exec', ns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', `${mounts.map((m) => `${m} && `).join('')}exec ${sshdCommand}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let sshdLog = '';
    sshd.stderr!.setEncoding('utf8');
    sshd.stderr!.on('data', (chunk: string) => (sshdLog = (sshdLog + chunk).slice(-20_000)));
    await waitFor(() => sshd!.exitCode === null && canConnect(address, 22), { timeoutMs: 15_000, what: `sshd on ${address}:22 (${sshdLog.trim().split('\n').pop()})` });

    const sshConfig = join(dir, 'ssh_config');
    writeFileSync(
      sshConfig,
      ['Host *', `  IdentityFile ${join(dir, 'id_ed25519')}`, '  IdentitiesOnly yes', `  UserKnownHostsFile ${knownHosts}`, '  GlobalKnownHostsFile /dev/null', ''].join('\n'),
    );

    const nsExec = (command: string) =>
      execFileSync('nsenter', ['--target', String(sshd!.pid!), '--all', '--root', '--', 'sh', '-c', command], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return {
      address,
      user,
      spec: `${user}@${address}`,
      path,
      sshConfig,
      knownHosts,
      dir,
      ns,
      exec: (command) => nsExec(command),
      ssh: (command) => execFileSync('ssh', ['-F', sshConfig, '-o', 'BatchMode=yes', `${user}@${address}`, command], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
      pids: () => listPids(ns),
      stop: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** Copies an npm cache into a user's home as ~/.npm. */
export function giveNpmCache(user: string, cache: string): void {
  const home = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).split(':')[5]!;
  run('cp', ['-a', cache, join(home, '.npm')]);
  run('chown', ['-R', `${user}:`, join(home, '.npm')]);
}

function run(file: string, args: string[]): void {
  execFileSync(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function listPids(ns: string): number[] {
  const out = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  return out.status === 0 ? out.stdout.split('\n').filter(Boolean).map(Number) : [];
}

function userExists(user: string): boolean {
  return spawnSync('id', ['-u', user], { stdio: 'ignore' }).status === 0;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
