/**
 * `kirin relay init`: keys WireGuard accepts (checked with `wg pubkey`), the
 * names it takes from the home config, and usage errors that name the flag.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { generateWireGuardKeys, tunnelAddresses } from '../../src/relay/init.ts';
import { KIRIN_BIN, tempDir, writeFiles } from '../support/kirin.ts';

const run = promisify(execFile);

async function wgPubkey(privateKey: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('wg', ['pubkey'], (error, stdout) => (error ? reject(error) : resolve(stdout.trim())));
    child.stdin!.end(`${privateKey}\n`);
  });
}

async function init(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [KIRIN_BIN, 'relay', 'init', ...args], { cwd });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('kirin relay init', () => {
  it('makes X25519 key pairs that wg pubkey agrees with', async () => {
    for (let i = 0; i < 3; i++) {
      const keys = generateWireGuardKeys();
      assert.equal(Buffer.from(keys.privateKey, 'base64').length, 32);
      assert.equal(await wgPubkey(keys.privateKey), keys.publicKey);
    }
  });

  it('takes the tunnel addresses from --subnet, and says what is wrong with one', () => {
    assert.deepEqual(tunnelAddresses('10.77.0.0/24'), { vps: '10.77.0.1', home: '10.77.0.2', prefix: 24 });
    assert.deepEqual(tunnelAddresses('192.168.200.8/30'), { vps: '192.168.200.9', home: '192.168.200.10', prefix: 30 });
    assert.match(String(tunnelAddresses('10.77.0.0/31')), /too small/);
    assert.match(String(tunnelAddresses('fd00::/64')), /IPv4/);
    assert.match(String(tunnelAddresses('10.77.0.1')), /expected a private IPv4 range/);
  });

  it('relays the public names of the home config, and pairs the two ends', async () => {
    const dir = tempDir('kirin-relay-init-');
    writeFiles(dir, { 'kirin.config.json': JSON.stringify({ sites: { 'example.org, www.example.org': { '/': { app: './app.ts' } }, 'intranet.local': { '/': { app: './app.ts' } } } }), 'app.ts': '' });
    const result = await init(dir, ['--vps', '2001:db8::10', '--port', '51999', '--interface', 'wg-home']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /for example\.org, www\.example\.org/);
    const vps = JSON.parse(readFileSync(join(dir, 'relay', 'vps', 'kirin.config.json'), 'utf8'));
    assert.deepEqual(vps, { relay: { to: '10.77.0.2', listen: [':80', ':443'], names: ['example.org', 'www.example.org'] } });
    const homeWg = readFileSync(join(dir, 'relay', 'home', 'wg-home.conf'), 'utf8');
    const vpsWg = readFileSync(join(dir, 'relay', 'vps', 'wg-home.conf'), 'utf8');
    assert.match(homeWg, /^Endpoint = \[2001:db8::10\]:51999$/m);
    assert.match(vpsWg, /^ListenPort = 51999$/m);
    // Each end's peer key is the other end's public key.
    const key = (text: string, name: string) => new RegExp(`^${name} = (\\S+)$`, 'm').exec(text)![1]!;
    assert.equal(key(homeWg, 'PublicKey'), await wgPubkey(key(vpsWg, 'PrivateKey')));
    assert.equal(key(vpsWg, 'PublicKey'), await wgPubkey(key(homeWg, 'PrivateKey')));
  });

  it('refuses bad flags by name, and never overwrites a folder of keys', async () => {
    const dir = tempDir('kirin-relay-init-');
    const cases: [string[], RegExp][] = [
      [[], /--vps: missing/],
      [['--vps', 'relay example'], /--vps: "relay example" is not a host name or address/],
      [['--vps', 'r.example.net', '--subnet', '10.0.0.0/31'], /--subnet: "10\.0\.0\.0\/31" is too small/],
      [['--vps', 'r.example.net', '--port', '70000'], /--port: expected a whole number from 1 to 65535/],
      [['--vps', 'r.example.net', '--interface', 'a-very-long-interface'], /--interface: "a-very-long-interface" is not an interface name/],
    ];
    for (const [args, message] of cases) {
      const result = await init(dir, args);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, message);
    }
    assert.equal((await init(dir, ['--vps', 'r.example.net'])).code, 0);
    const again = await init(dir, ['--vps', 'r.example.net']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /--out: .*relay already exists/);
    const unknown = await run(process.execPath, [KIRIN_BIN, 'relay', 'start'], { cwd: dir }).catch((e: { code: number; stderr: string }) => e);
    assert.match((unknown as { stderr: string }).stderr, /unknown subcommand "start"/);
  });
});
