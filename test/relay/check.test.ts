/**
 * K030–K033 on captured output of the real tools (`ip -j`, `wg show`, ufw),
 * never this machine's network. The same checks run for real inside the
 * network namespaces of test/relay/tunnel.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CommandResult } from '../../src/ops/command-runner.ts';
import { audit, fixture, ids, ok, type FakeCommands } from '../ops/audit-support.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const HOME_KEY = 'pih17NTBjpQ+bB9Vb41QUUqfdqqgAqChUHjuGPr5OWk=';
const VPS_KEY = 'ksQdgBrUvDz2nd2fkYbC4ktLfYiTH3AHjvAYArukVDM=';

const relayConfig = { relay: { to: '10.77.0.2' } };
const homeConfig = {
  trustedProxies: ['10.77.0.1'],
  listen: { http: [{ address: '10.77.0.2:80', proxyProtocol: true }], https: [{ address: '10.77.0.2:443', proxyProtocol: true }] },
  tls: { email: 'admin@example.com' },
  sites: { 'example.com': { '/': { app: './app.ts' } } },
};

interface Tunnel {
  route?: object | null;
  up?: boolean;
  /** Seconds before NOW of the last handshake; null: never. */
  handshakeAgo?: number | null;
  wg?: 'ok' | 'denied' | 'missing';
  peer?: { key: string; allowed: string };
  ufw?: string;
}

function commands(t: Tunnel): FakeCommands {
  const peer = t.peer ?? { key: HOME_KEY, allowed: '10.77.0.2/32' };
  const handshake = t.handshakeAgo === null ? 0 : Math.round(NOW / 1000) - (t.handshakeAgo ?? 20);
  const wgShow: Record<string, string> = { 'latest-handshakes': `${peer.key}\t${handshake}\n`, 'allowed-ips': `${peer.key}\t${peer.allowed}\n`, 'listen-port': '51820\n' };
  return {
    ip: (args): CommandResult => {
      if (args.includes('route')) return t.route === null ? { code: 2, stdout: '', stderr: 'RTNETLINK answers: Network is unreachable\n' } : ok(JSON.stringify([t.route ?? { dst: args.at(-1), dev: 'kirin0', prefsrc: '10.77.0.1', flags: [], uid: 0, cache: [] }]));
      return ok(JSON.stringify([{ ifindex: 7, ifname: 'kirin0', flags: t.up === false ? ['POINTOPOINT', 'NOARP'] : ['POINTOPOINT', 'NOARP', 'UP', 'LOWER_UP'], mtu: 1420, operstate: 'UNKNOWN' }]));
    },
    wg: (args) => {
      if (t.wg === 'missing') return null;
      if (t.wg === 'denied') return { code: 1, stdout: '', stderr: 'Unable to access interface: Operation not permitted\n' };
      return ok(wgShow[args[2]!] ?? '');
    },
    ...(t.ufw ? { ufw: () => ok(fixture(`firewall/${t.ufw}`)) } : {}),
  };
}

function relayIds(report: { findings: { id: string }[] }): string[] {
  return ids(report as Parameters<typeof ids>[0]).filter((id) => /^K03/.test(id));
}

describe('K030–K033: the relay tunnel', () => {
  it('a healthy tunnel on either end: nothing to report', async () => {
    assert.deepEqual(relayIds(await audit({ config: relayConfig, host: { now: NOW }, commands: commands({}) })), []);
    assert.deepEqual(relayIds(await audit({ config: homeConfig, host: { now: NOW }, commands: commands({ peer: { key: VPS_KEY, allowed: '10.77.0.1/32' } }) })), []);
  });

  it('K030: no route, a route through a gateway, or the interface down', async () => {
    const noRoute = await audit({ config: relayConfig, host: { now: NOW }, commands: commands({ route: null }) });
    assert.deepEqual(relayIds(noRoute), ['K030']);
    assert.match(noRoute.findings.find((f) => f.id === 'K030')!.message, /no route to 10\.77\.0\.2 \(the home end\)/);
    const viaGateway = await audit({ config: homeConfig, host: { now: NOW }, commands: commands({ route: { dst: '10.77.0.1', gateway: '192.168.1.1', dev: 'eth0' } }) });
    assert.deepEqual(relayIds(viaGateway), ['K030']);
    assert.match(viaGateway.findings.find((f) => f.id === 'K030')!.message, /10\.77\.0\.1 \(the relay\) is routed through eth0 via 192\.168\.1\.1/);
    assert.match(viaGateway.findings.find((f) => f.id === 'K030')!.fix, /systemctl enable --now wg-quick@kirin0/);
    const down = await audit({ config: relayConfig, host: { now: NOW }, commands: commands({ up: false }) });
    assert.deepEqual(relayIds(down), ['K030']);
  });

  it('K031: a handshake older than 3 minutes, or none; a note when wg may not be read', async () => {
    const stale = await audit({ config: relayConfig, host: { now: NOW }, commands: commands({ handshakeAgo: 600 }) });
    assert.deepEqual(relayIds(stale), ['K031']);
    assert.match(stale.findings.find((f) => f.id === 'K031')!.message, /last completed a handshake 600 s ago/);
    const never = await audit({ config: relayConfig, host: { now: NOW }, commands: commands({ handshakeAgo: null }) });
    assert.match(never.findings.find((f) => f.id === 'K031')!.message, /has never completed a handshake/);
    const denied = await audit({ config: relayConfig, host: { now: NOW }, commands: commands({ wg: 'denied' }) });
    assert.deepEqual(relayIds(denied), []);
    assert.match(denied.notes.join('\n'), /wg show kirin0` failed \(Unable to access interface: Operation not permitted\); run kirin check as root to check K031/);
  });

  it('K032: a PROXY listener on every address, or trustedProxies with a range', async () => {
    const wildcard = await audit({ config: { ...homeConfig, listen: { https: [{ address: ':443', proxyProtocol: true }] } }, host: { now: NOW }, commands: commands({ peer: { key: VPS_KEY, allowed: '10.77.0.1/32' } }) });
    assert.deepEqual(relayIds(wildcard), ['K032']);
    assert.equal(wildcard.findings.find((f) => f.id === 'K032')!.where, 'listen.https[0]');
    const range = await audit({ config: { ...homeConfig, trustedProxies: ['10.0.0.0/8'] }, host: { now: NOW }, commands: commands({}) });
    assert.deepEqual(relayIds(range), ['K032']);
    assert.match(range.findings.find((f) => f.id === 'K032')!.message, /trustedProxies has 10\.0\.0\.0\/8/);
  });

  it('K033: ufw without WireGuard’s UDP port on the relay (and K025 for 80/443)', async () => {
    const report = await audit({ config: relayConfig, host: { now: NOW }, commands: commands({ ufw: 'ufw-verbose-ssh-only.txt' }) });
    assert.deepEqual(ids(report).filter((id) => id === 'K025' || id === 'K033'), ['K025', 'K033']);
    assert.equal(report.findings.find((f) => f.id === 'K033')!.fix, 'sudo ufw allow 51820/udp');
    assert.equal(report.findings.find((f) => f.id === 'K025')!.fix, 'sudo ufw allow 80,443/tcp');
  });

  it('a relay is not asked for site names (K012)', async () => {
    assert.ok(!ids(await audit({ config: relayConfig, host: { now: NOW }, commands: commands({}) })).includes('K012'));
  });
});
