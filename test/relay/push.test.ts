/**
 * `kirin relay init --push`: the VPS's half carried there over real SSH (an
 * OpenSSH server in its own network namespace, host keys checked). As a plain
 * user the files land 0600/0700 in ~/kirin-relay and the root steps are
 * printed; as root the WireGuard config is installed in /etc/wireguard
 * (a private /root and /etc/wireguard in the host's mount namespace), and a
 * different config already there is left alone. The private key never
 * appears in the output.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestHost, type TestHost } from '../deploy/support/test-host.ts';
import { KIRIN_BIN, tempDir } from '../support/kirin.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function init(cwd: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [KIRIN_BIN, 'relay', 'init', ...args], { cwd }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const IFACE = 'krpush0';

describe('kirin relay init --push over SSH', () => {
  let host: TestHost;
  before(async () => {
    host = await startTestHost({ privateRoot: true });
  });
  after(async () => {
    await host?.stop();
  });

  it('as a plain user: copies vps/ into ~/kirin-relay (0700, WireGuard config 0600) and prints the root steps', async () => {
    const dir = tempDir('kirin-relay-push-');
    const result = await init(dir, ['--vps', host.address, '--names', 'example.org', '--interface', IFACE, '--push', '--ssh', host.spec, '--ssh-config', host.sshConfig]);
    assert.equal(result.code, 0, result.stderr);
    const local = (name: string) => readFileSync(join(dir, 'relay', 'vps', name), 'utf8');
    assert.equal(host.ssh(`cat kirin-relay/${IFACE}.conf`), local(`${IFACE}.conf`));
    assert.equal(host.ssh('cat kirin-relay/kirin.config.json'), local('kirin.config.json'));
    assert.deepEqual(host.ssh(`stat -c %a kirin-relay kirin-relay/${IFACE}.conf`).trim().split('\n'), ['700', '600']);
    assert.equal(host.ssh('ls -A kirin-relay').trim().split('\n').sort().join(' '), ['kirin.config.json', `${IFACE}.conf`].sort().join(' '), 'no .part file is left behind');
    const home = host.ssh('pwd').trim();
    assert.match(result.stdout, new RegExp(`copied to ${home}/kirin-relay`));
    assert.match(result.stdout, /not root there and no passwordless sudo/);
    assert.match(result.stdout, new RegExp(`sudo install -m 600 ${home}/kirin-relay/${IFACE}\\.conf /etc/wireguard/${IFACE}\\.conf`));
    const privateKey = /^PrivateKey = (.+)$/m.exec(local(`${IFACE}.conf`))![1]!;
    assert.ok(!result.stdout.includes(privateKey) && !result.stderr.includes(privateKey), 'the private key is never printed');
  });

  it('as root: installs /etc/wireguard/IFACE.conf 0600; a different config already there is left alone', async () => {
    const first = tempDir('kirin-relay-push-root-');
    const result = await init(first, ['--vps', host.address, '--interface', IFACE, '--push', '--ssh', `root@${host.address}`, '--ssh-config', host.sshConfig]);
    assert.equal(result.code, 0, result.stderr);
    // systemd does not run on the test host: installed, with the command to bring it up.
    assert.match(result.stdout, new RegExp(`WireGuard config installed in /etc/wireguard/${IFACE}\\.conf`));
    assert.match(result.stdout, new RegExp(`sudo wg-quick up ${IFACE}`));
    const installed = host.exec(`cat /etc/wireguard/${IFACE}.conf`);
    assert.equal(installed, readFileSync(join(first, 'relay', 'vps', `${IFACE}.conf`), 'utf8'));
    assert.equal(host.exec(`stat -c %a /etc/wireguard/${IFACE}.conf`).trim(), '600');

    const second = tempDir('kirin-relay-push-again-');
    const again = await init(second, ['--vps', host.address, '--interface', IFACE, '--push', '--ssh', `root@${host.address}`, '--ssh-config', host.sshConfig]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already there and differs: left alone/);
    assert.equal(host.exec(`cat /etc/wireguard/${IFACE}.conf`), installed, 'the tunnel in use keeps its keys');
  });

  it('a host it cannot reach: exits non-zero saying so, and where the files are', async () => {
    const dir = tempDir('kirin-relay-push-fail-');
    // The host's namespace has no route to this documentation address.
    const result = await init(dir, ['--vps', '192.0.2.1', '--interface', IFACE, '--push', '--ssh', `nobody@${host.address}:2`, '--ssh-config', host.sshConfig]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /--push: .*(cannot reach|refused|connect)/i);
    assert.match(result.stderr, /The files are written in relay\/: copy relay\/vps to the VPS by hand/);
  });

  it('names the flag when --ssh comes without --push', async () => {
    const result = await init(tempDir('kirin-relay-push-usage-'), ['--vps', 'relay.example.com', '--ssh', 'root@relay.example.com']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--ssh: only used with --push/);
  });
});
