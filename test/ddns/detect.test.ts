/**
 * Public address detection: echo services on loopback (agreement of two,
 * disagreement, one down, wrong answers), and the machine's own interfaces in
 * a network namespace the test builds — only a private IPv4, the shared
 * CGNAT range, a public IPv4, and IPv6 with temporary (kernel-made privacy
 * addresses) and deprecated ones.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Detection } from '../../src/ddns/addresses/detect.ts';
import { EchoClient } from '../../src/ddns/addresses/echo.ts';
import { createNetns, type Netns } from './support/netns.ts';
import { startEcho, type StandIn } from './support/stand-ins.ts';

const HELPER = fileURLToPath(new URL('./support/detect-in-netns.ts', import.meta.url));

describe('echo services', () => {
  const started: StandIn[] = [];
  const echo = async (answer: Parameters<typeof startEcho>[0]) => {
    const e = await startEcho(answer);
    started.push(e);
    return e;
  };
  // Long enough that a loaded machine's answer is not taken for a hang; the hanging stand-in costs this once per call.
  const client = new EchoClient({ timeoutMs: 2_000 });
  after(async () => {
    client.close();
    await Promise.all(started.map((e) => e.close()));
  });

  it('believes an address two services agree on, and asks no third', async () => {
    const [a, b, c] = [await echo('81.2.69.160'), await echo('81.2.69.160'), await echo('81.2.69.199')];
    const outcome = await client.publicAddress([a.url, b.url, c.url], 4);
    assert.deepEqual(outcome, { ok: true, address: '81.2.69.160', agreeing: [a.url, b.url] });
    assert.equal(c.requests.length, 0);
  });

  it('asks the rest when the first two disagree, and takes the address two of them gave', async () => {
    const [a, b, c] = [await echo('81.2.69.160'), await echo('81.2.69.161'), await echo('81.2.69.161')];
    const outcome = await client.publicAddress([a.url, b.url, c.url], 4);
    assert.deepEqual(outcome, { ok: true, address: '81.2.69.161', agreeing: [b.url, c.url] });
  });

  it('refuses when no two agree, naming what each said', async () => {
    const [a, b, c] = [await echo('81.2.69.160'), await echo('81.2.69.161'), await echo('81.2.69.162')];
    const outcome = await client.publicAddress([a.url, b.url, c.url], 4);
    assert.equal(outcome.ok, false);
    assert.match(!outcome.ok ? outcome.reason : '', /do not agree .*said 81\.2\.69\.160.*said 81\.2\.69\.161.*said 81\.2\.69\.162/);
  });

  it('gets past a service that hangs, one that answers a private address and one that answers garbage', async () => {
    const hang = await echo('hang');
    const lan = await echo('192.168.1.20');
    const html = await echo({ body: '<html>rate limited</html>' });
    const [a, b] = [await echo('81.2.69.160'), await echo('81.2.69.160')];
    const outcome = await client.publicAddress([hang.url, lan.url, html.url, a.url, b.url], 4);
    assert.deepEqual(outcome, { ok: true, address: '81.2.69.160', agreeing: [a.url, b.url] });
    const failed = await client.publicAddress([hang.url, lan.url, html.url], 4);
    assert.equal(failed.ok, false);
    const reason = !failed.ok ? failed.reason : '';
    assert.match(reason, /did not answer within 2 s/);
    assert.match(reason, /said 192\.168\.1\.20, which is not a public address/);
    assert.match(reason, /not an IPv4 address/);
  });
});

describe('interfaces (in a network namespace)', () => {
  let ns: Netns;
  before(async () => {
    ns = await createNetns();
  });
  after(async () => {
    await ns?.remove();
  });

  async function detect(options: { echo4?: string[]; echo6?: string[]; ipv4?: boolean; ipv6?: boolean }): Promise<{ detection: Detection; echoRequests: { ipv4: number[]; ipv6: number[] } }> {
    const input = { echo4: options.echo4 ?? ['81.2.69.160', '81.2.69.160'], echo6: options.echo6 ?? [], ipv4: options.ipv4 ?? true, ipv6: options.ipv6 ?? false };
    return JSON.parse(await ns.node(HELPER, [JSON.stringify(input)]));
  }

  async function setIpv4(cidr: string, gateway: string): Promise<void> {
    await ns.ip('-4', 'addr', 'flush', 'dev', 'kn0');
    await ns.ip('-4', 'addr', 'add', cidr, 'dev', 'kn0');
    await ns.ip('-4', 'route', 'replace', 'default', 'via', gateway, 'dev', 'kn0');
  }

  it('only a private IPv4: the address comes from the echo services, and port forwarding is what is needed', async () => {
    await setIpv4('192.168.77.20/24', '192.168.77.1');
    const { detection, echoRequests } = await detect({});
    assert.deepEqual(detection.ipv4, { address: '81.2.69.160', source: detection.ipv4!.source, problem: null });
    assert.match(detection.ipv4!.source, /^echo services/);
    assert.deepEqual(echoRequests.ipv4, [1, 1]);
    assert.equal(detection.reachability?.kind, 'nat');
    assert.match(detection.reachability!.message, /kn0 has the private address 192\.168\.77\.20 .*81\.2\.69\.160.*forward TCP ports 80 and 443/);
  });

  it('an address in 100.64.0.0/10: carrier-grade NAT, unreachable by port forwarding, pointing to the tunnel', async () => {
    await setIpv4('100.72.13.5/10', '100.64.0.1');
    const { detection } = await detect({});
    assert.equal(detection.ipv4?.address, '81.2.69.160');
    assert.equal(detection.reachability?.kind, 'cgnat');
    assert.match(detection.reachability!.message, /carrier-grade NAT: kn0 has 100\.72\.13\.5 .*100\.64\.0\.0\/10.*internet sees 81\.2\.69\.160.*port forwarding cannot.*docs\/ddns\.md#behind-cgnat/);
  });

  it('a public IPv4 on the interface: used as it is, no echo service asked', async () => {
    await setIpv4('81.2.69.170/24', '81.2.69.1');
    const { detection, echoRequests } = await detect({});
    assert.deepEqual(detection.ipv4, { address: '81.2.69.170', source: 'interface kn0', problem: null });
    assert.deepEqual(echoRequests.ipv4, [0, 0]);
    assert.equal(detection.reachability?.kind, 'direct');
  });

  it('IPv6: the stable address, never the temporary (privacy) or deprecated ones', async () => {
    await ns.ip('-6', 'route', 'replace', 'default', 'via', 'fe80::1', 'dev', 'kn0');
    // The kernel makes temporary addresses from a mngtmpaddr prefix when use_tempaddr is 2 (RFC 8981), as on a desktop.
    await ns.sysctl('net.ipv6.conf.kn0.use_tempaddr=2');
    await ns.ip('-6', 'addr', 'add', '2a01:4f8:10:20::5/64', 'dev', 'kn0', 'mngtmpaddr', 'valid_lft', '3600', 'preferred_lft', '1800');
    await ns.ip('-6', 'addr', 'add', '2a01:4f8:10:21::9/64', 'dev', 'kn0', 'preferred_lft', '0');
    const temporary = await waitForTemporary(ns);
    const { detection, echoRequests } = await detect({ ipv4: false, ipv6: true, echo6: [temporary, temporary] });
    assert.deepEqual(detection.ipv6, { address: '2a01:4f8:10:20::5', source: 'interface kn0', problem: null });
    assert.deepEqual(echoRequests.ipv6, [0, 0], 'the interface answers; echo services (which would see the temporary address) are not asked');
  });

  it('IPv6 with only temporary and deprecated global addresses: nothing is published, and the log says why', async () => {
    await ns.ip('-6', 'addr', 'del', '2a01:4f8:10:20::5/64', 'dev', 'kn0');
    // Deleting the mngtmpaddr address leaves its temporaries until they expire: keep one of them.
    await ns.ip('-6', 'addr', 'add', '2a01:4f8:10:22::7/64', 'dev', 'kn0', 'preferred_lft', '0');
    const text = await ns.node(HELPER, [JSON.stringify({ echo4: [], echo6: [], ipv4: false, ipv6: true })]);
    const { detection } = JSON.parse(text) as { detection: Detection };
    assert.equal(detection.ipv6?.address, null);
    assert.match(detection.ipv6!.problem!, /only temporary or deprecated IPv6 addresses here: .*2a01:4f8:10:21::9 \(deprecated\)/);
  });
});

/** The first temporary address the kernel made for kn0 (polled with a deadline). */
async function waitForTemporary(ns: Netns): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const out = await ns.node('-e', [`process.stdout.write(require('fs').readFileSync('/proc/net/if_inet6','utf8'))`]).catch(() => '');
    const line = out.split('\n').find((l) => l.trim().endsWith('kn0') && (Number.parseInt(l.trim().split(/\s+/)[4]!, 16) & 0x01) !== 0);
    if (line) return line.trim().slice(0, 32).match(/.{4}/g)!.join(':').replace(/\b0{1,3}/g, '');
    if (Date.now() > deadline) throw new Error('the kernel made no temporary address');
    await new Promise((r) => setTimeout(r, 50));
  }
}
