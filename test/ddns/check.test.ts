/**
 * `kirin check --deploy` with a ddns section: K026 when a name's A record does
 * not hold the detected public address (read from a real BIND, the zone's own
 * server), naming both addresses; K027 when the machine sits behind
 * carrier-grade NAT (an address in 100.64.0.0/10, in a network namespace).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Rfc2136Provider } from '../../src/ddns/providers/rfc2136.ts';
import { KIRIN_BIN, tempDir } from '../support/kirin.ts';
import { startBind, type Bind } from './support/bind.ts';
import { createNetns, type Netns } from './support/netns.ts';
import { startEcho } from './support/stand-ins.ts';

interface Finding {
  id: string;
  severity: string;
  message: string;
  where: string | null;
}

async function checkDeploy(cwd: string): Promise<{ findings: Finding[]; notes: string[] }> {
  const out = await promisify(execFile)(process.execPath, [KIRIN_BIN, 'check', '--deploy', '--json'], { cwd }).then(
    (r) => r.stdout,
    (e: { stdout: string }) => e.stdout,
  );
  return JSON.parse(out) as { findings: Finding[]; notes: string[] };
}

describe('kirin check --deploy: DDNS names (K026)', () => {
  let bind: Bind;
  let echoes: Awaited<ReturnType<typeof startEcho>>[];
  before(async () => {
    bind = await startBind();
    echoes = [await startEcho('81.2.69.160'), await startEcho('81.2.69.160')];
  });
  after(async () => {
    await bind?.stop();
    await Promise.all((echoes ?? []).map((e) => e.close()));
  });

  it('warns for a name pointing elsewhere and for one with no record, naming both addresses; not for the right one', async () => {
    const provider = new Rfc2136Provider(
      { kind: 'rfc2136', host: '127.0.0.1', port: bind.port, zone: bind.zone, key: { name: bind.keyName, algorithm: 'hmac-sha256', secret: { variable: 'S', at: 'ddns.key.secret' } }, ttl: 60 },
      () => bind.secret,
    );
    await provider.update({ names: [`www.${bind.zone}`], ipv4: '81.2.69.160', ipv6: null }, AbortSignal.timeout(20_000));
    await provider.update({ names: [`api.${bind.zone}`], ipv4: '81.2.69.99', ipv6: null }, AbortSignal.timeout(20_000));

    const dir = tempDir('kirin-ddns-check-');
    writeFileSync(join(dir, '.env'), `DDNS_TSIG_SECRET=${bind.secret}\n`, { mode: 0o600 });
    writeFileSync(
      join(dir, 'kirin.config.json'),
      JSON.stringify({
        envFiles: ['.env'],
        sites: { [`www.${bind.zone}, api.${bind.zone}, new.${bind.zone}`]: { '/': { respond: 'home' } } },
        ddns: { provider: 'rfc2136', server: `127.0.0.1:${bind.port}`, zone: bind.zone, key: { name: bind.keyName, secret: '$DDNS_TSIG_SECRET' }, ipv6: false, detect: { ipv4: echoes.map((e) => e.url) } },
      }),
    );
    const report = await checkDeploy(dir);
    const k026 = report.findings.filter((f) => f.id === 'K026');
    assert.deepEqual(k026.map((f) => f.where).sort(), [`ddns.names: api.${bind.zone}`, `ddns.names: new.${bind.zone}`]);
    const api = k026.find((f) => f.where === `ddns.names: api.${bind.zone}`)!;
    assert.equal(api.severity, 'warning');
    assert.match(api.message, /api\.home\.example has A 81\.2\.69\.99, but this machine's public IPv4 address is 81\.2\.69\.160/);
    assert.match(k026.find((f) => f.where === `ddns.names: new.${bind.zone}`)!.message, /has no A record, but .* 81\.2\.69\.160/);
    assert.equal(report.findings.filter((f) => f.id === 'K027').length, 0);
  });
});

describe('kirin check --deploy: carrier-grade NAT (K027)', () => {
  let ns: Netns;
  before(async () => {
    ns = await createNetns();
    await ns.ip('-4', 'addr', 'add', '100.72.13.5/10', 'dev', 'kn0');
    await ns.ip('-4', 'route', 'add', 'default', 'via', '100.64.0.1', 'dev', 'kn0');
  });
  after(async () => {
    await ns?.remove();
  });

  it('says the machine cannot be reached by port forwarding and points to the tunnel', async () => {
    const out = await ns.node(fileURLToPath(new URL('./support/check-in-netns.ts', import.meta.url)), ['81.2.69.160']);
    const report = JSON.parse(out) as { findings: Finding[] };
    const [k027] = report.findings.filter((f) => f.id === 'K027');
    assert.ok(k027, out);
    assert.equal(k027.severity, 'warning');
    assert.match(k027.message, /carrier-grade NAT: kn0 has 100\.72\.13\.5 .*internet sees 81\.2\.69\.160.*port forwarding cannot.*docs\/ddns\.md#behind-cgnat/);
  });
});
