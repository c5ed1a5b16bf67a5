/**
 * The relay over a real WireGuard tunnel: two network namespaces, "vps" and
 * "home", joined by a veth pair that carries WireGuard (Debian's wireguard-go
 * in each), configured from the files `kirin relay init` wrote; a real Kirin
 * relay in "vps" and a real Kirin at home behind it. The test's own namespace
 * is the internet: clients and Pebble (the ACME CA) reach the VPS's public
 * address, nothing else.
 *
 * Root, /dev/net/tun and `ip netns` are required; without them the test fails
 * with the reason (it never skips).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startWebhookReceiver, type WebhookReceiver } from '../support/alert-receivers.ts';
import { KIRIN_BIN, ROOT, startKirin, tempDir, waitFor, writeFiles, type KirinProcess, type LogLine } from '../support/kirin.ts';
import { createRelayNetwork, netnsUnavailable, type RelayNetwork } from '../support/netns.ts';
import { startPebble, type Pebble } from '../support/pebble.ts';

const run = promisify(execFile);
const SHOP = 'shop.kirin-test.org';
const BLOG = 'blog.kirin-test.org';
const APP = `export default { fetch: (r: Request) => new Response('home ' + new URL(r.url).hostname + ' sees ' + r.headers.get('x-forwarded-for')) };\n`;
const obtained = (name: string) => (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith(`certificate for ${name} obtained`);

describe('kirin relay over a real WireGuard tunnel (network namespaces vps and home)', () => {
  let net: RelayNetwork;
  let dir: string;
  let pebble: Pebble;
  let webhook: WebhookReceiver;
  let relay: KirinProcess;
  let home: KirinProcess | null = null;
  let relayFiles: string;
  let vpsInterface: string;
  let homeInterface: string;

  before(async () => {
    const unavailable = await netnsUnavailable();
    if (unavailable) assert.fail(`cannot run the relay tunnel tests: ${unavailable}`);
    net = await createRelayNetwork();
    dir = tempDir('kirin-relay-tunnel-');
    vpsInterface = `${net.vps}w`;
    homeInterface = `${net.home}w`;

    // At home: kirin relay init, as a user runs it.
    const init = await run(process.execPath, [KIRIN_BIN, 'relay', 'init', '--vps', net.underlayVps, '--names', `${SHOP},${BLOG}`, '--out', 'relay'], { cwd: dir });
    assert.match(init.stdout, /systemctl enable --now wg-quick@kirin0/);
    relayFiles = join(dir, 'relay');
    for (const secret of ['vps/kirin0.conf', 'home/kirin0.conf']) assert.equal(statSync(join(relayFiles, secret)).mode & 0o777, 0o600, secret);

    await net.startWireGuard(net.vps, vpsInterface, join(relayFiles, 'vps', 'kirin0.conf'));
    await net.startWireGuard(net.home, homeInterface, join(relayFiles, 'home', 'kirin0.conf'));

    webhook = await startWebhookReceiver(net.publicRoot);
    pebble = await startPebble({ dir, httpPort: 80, tlsPort: 443, apiAddress: net.ispRoot, resolveTo: net.publicVps });

    // The VPS: the config relay init wrote, plus where alerts go.
    const vpsConfig = JSON.parse(readFileSync(join(relayFiles, 'vps', 'kirin.config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(relayFiles, 'vps', 'kirin.config.json'), JSON.stringify({ ...vpsConfig, stateDir: './state', notify: { webhook: webhook.url } }));
    relay = await startKirin({ cwd: join(relayFiles, 'vps'), prefix: net.prefix(net.vps), args: ['serve', '--config', 'kirin.config.json', '--log-level', 'debug'] });
  });

  after(async () => {
    await home?.stop();
    await relay?.stop();
    await pebble?.close();
    await webhook?.close();
    await net?.close();
  });

  /** A home Kirin in the home namespace: the keys relay init wrote for the home config, and one site. */
  async function startHome(name: string, site: string, options: { http: boolean }): Promise<KirinProcess> {
    const project = join(dir, name);
    const relayKeys = JSON.parse(readFileSync(join(relayFiles, 'home', 'kirin.relay.json'), 'utf8')) as { trustedProxies: string[]; listen: { http: unknown[]; https: unknown[] } };
    writeFiles(project, {
      'app.ts': APP,
      'kirin.config.json': JSON.stringify({
        workers: 1,
        admin: false,
        stateDir: './state',
        trustedProxies: relayKeys.trustedProxies,
        listen: options.http ? relayKeys.listen : { https: relayKeys.listen.https },
        tls: { acme: pebble.directory, caBundle: pebble.apiCaFile, email: 'ops@kirin-test.org' },
        sites: { [site]: { '/': { app: './app.ts' } } },
      }),
    });
    home = await startKirin({ cwd: project, prefix: net.prefix(net.home), args: ['serve', '--config', 'kirin.config.json'] });
    return home;
  }

  async function curl(args: string[]): Promise<string> {
    return (await run('curl', ['-sS', '--max-time', '10', ...args])).stdout;
  }

  it('gets a certificate by HTTP-01 through the relay; a client reaches the home site over HTTPS by SNI, with the home certificate, and the app sees its address', async () => {
    const kirin = await startHome('home-http-01', SHOP, { http: true });
    await kirin.waitForLine(obtained(SHOP), 60_000, 'the certificate for the shop');
    assert.match(String(kirin.lines.find((l) => String(l.msg).startsWith(`obtaining a certificate for ${SHOP}`))?.msg), /\(http-01\)$/);

    const rootFile = await pebble.rootFile();
    // curl from the test's namespace (the internet) to the VPS's public address; it verifies the home's certificate from Pebble.
    const body = await curl(['--cacert', rootFile, '--resolve', `${SHOP}:443:${net.publicVps}`, `https://${SHOP}/hello`]);
    assert.equal(body, `home ${SHOP} sees ${net.publicRoot}`);
    const certificate = await run('sh', ['-c', `openssl s_client -connect ${net.publicVps}:443 -servername ${SHOP} -CAfile ${rootFile} -verify_return_error </dev/null 2>&1`]);
    assert.match(certificate.stdout, /Verify return code: 0 \(ok\)/);
    assert.match(certificate.stdout, new RegExp(`subject=CN ?= ?${SHOP.replace(/\./g, '\\.')}|DNS:${SHOP}`));
    // Plain HTTP is relayed as well: the home Kirin answers with its redirect to HTTPS.
    const redirect = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '--resolve', `${SHOP}:80:${net.publicVps}`, `http://${SHOP}/x`]);
    assert.equal(redirect.stdout, `308 https://${SHOP}/x`);
    // The relay never held the site's key: its state folder has no certificates.
    assert.throws(() => statSync(join(relayFiles, 'vps', 'state', 'tls', 'certificates')), /ENOENT/);
  });

  it('refuses a PROXY header from a peer that is not the relay', async () => {
    assert.ok(home, 'the home Kirin of the previous test runs');
    const [homeAddress] = (JSON.parse(readFileSync(join(relayFiles, 'home', 'kirin.relay.json'), 'utf8')) as { listen: { http: { address: string }[] } }).listen.http.map((l) => l.address);
    const [host, port] = homeAddress!.split(':');
    // From inside the home namespace (its own tunnel address, not the relay's), a well-formed v2 header naming some client.
    const script = `
      const { encodeProxyHeader } = await import(${JSON.stringify(join(ROOT, 'dist', 'relay', 'proxy-protocol.js'))});
      const net = await import('node:net');
      const socket = net.connect({ host: ${JSON.stringify(host)}, port: ${port} }, () => {
        socket.write(Buffer.concat([encodeProxyHeader({ address: '198.51.100.7', port: 4000 }, { address: ${JSON.stringify(host)}, port: ${port} }), Buffer.from('GET / HTTP/1.1\\r\\nHost: ${SHOP}\\r\\n\\r\\n')]));
      });
      let got = '';
      socket.on('data', (c) => (got += c));
      socket.on('close', () => console.log(JSON.stringify({ got })));
      socket.on('error', () => {});`;
    const { stdout } = await run('ip', ['netns', 'exec', net.home, process.execPath, '--input-type=module', '-e', script]);
    assert.deepEqual(JSON.parse(stdout), { got: '' });
    await home!.waitForLine((l) => typeof l.msg === 'string' && l.msg.includes('on a PROXY protocol listener: it is not in trustedProxies'), 10_000, 'the refusal');
  });

  it('kirin check --deploy on each end: the tunnel is up with a recent handshake; with the home interface down, K030', async () => {
    assert.ok(home, 'the home Kirin of the first test runs');
    const check = async (ns: string, cwd: string) => {
      const result = await run('ip', ['netns', 'exec', ns, process.execPath, KIRIN_BIN, 'check', '--deploy', '--json', '--config', 'kirin.config.json'], { cwd }).catch((error: { stdout: string }) => error);
      const report = JSON.parse(result.stdout) as { findings: { id: string; message: string }[]; notes: string[] };
      return { ids: report.findings.map((f) => f.id).filter((id) => /^K03/.test(id)), report };
    };
    const vps = await check(net.vps, join(relayFiles, 'vps'));
    assert.deepEqual(vps.ids, [], JSON.stringify(vps.report));
    const homeProject = join(dir, 'home-http-01');
    assert.deepEqual((await check(net.home, homeProject)).ids, []);
    await net.exec(net.home, 'ip', ['link', 'set', 'dev', homeInterface, 'down']);
    try {
      const down = await check(net.home, homeProject);
      assert.deepEqual(down.ids, ['K030']);
      assert.match(down.report.findings.find((f) => f.id === 'K030')!.message, /10\.77\.0\.1 \(the relay\)/);
    } finally {
      await net.exec(net.home, 'ip', ['link', 'set', 'dev', homeInterface, 'up']);
    }
  });

  it('gets a certificate by TLS-ALPN-01 through the relay (home listens for HTTPS only)', async () => {
    await home?.stop();
    const kirin = await startHome('home-tls-alpn-01', BLOG, { http: false });
    await kirin.waitForLine(obtained(BLOG), 60_000, 'the certificate for the blog');
    assert.match(String(kirin.lines.find((l) => String(l.msg).startsWith(`obtaining a certificate for ${BLOG}`))?.msg), /\(tls-alpn-01\)$/);
    const body = await curl(['--cacert', await pebble.rootFile(), '--resolve', `${BLOG}:443:${net.publicVps}`, `https://${BLOG}/`]);
    assert.equal(body, `home ${BLOG} sees ${net.publicRoot}`);
  });

  it('with the home Kirin stopped: plain HTTP gets the 503 page, TLS is closed, and an alert goes out', async () => {
    await home?.stop();
    home = null;
    const page = await run('curl', ['-sS', '-w', '\n%{http_code}', '--resolve', `${BLOG}:80:${net.publicVps}`, `http://${BLOG}/`]);
    assert.match(page.stdout, /This site is temporarily unavailable/);
    assert.match(page.stdout, /\n503$/);
    await assert.rejects(run('curl', ['-sS', '--max-time', '5', '-k', '--resolve', `${BLOG}:443:${net.publicVps}`, `https://${BLOG}/`]), /SSL|reset|closed|Connection/i);
    const [alert] = await webhook.waitForPosts(1, 30_000);
    assert.equal(alert!.kind, 'upstream-down');
    assert.match(String(alert!.title), /tcp:\/\/10\.77\.0\.2 is down \(relay\)/);
    // The relay's own view: the home end is down; counts and the tunnel are on /metrics.
    // Workers report their counts once a second: poll until the refusals above are in.
    const metrics = await waitFor(async () => {
      const text = (await net.exec(net.vps, 'curl', ['-sS', 'http://127.0.0.1:9180/metrics'])).stdout;
      return /kirin_relay_connections_refused_total\{reason="home-down"\} [1-9]/.test(text) ? text : null;
    }, { timeoutMs: 10_000, what: 'the home-down refusals on /metrics' });
    assert.match(metrics, /kirin_upstream_up\{route="relay",url="tcp:\/\/10\.77\.0\.2"\} 0/);
    const relayed = Number(/kirin_relay_connections_relayed_total (\d+)/.exec(metrics)?.[1]);
    assert.ok(relayed >= 3, `relayed ${relayed}`);
    const handshake = Number(/kirin_relay_wireguard_last_handshake_timestamp_seconds\{interface="[^"]+"\} (\d+)/.exec(metrics)?.[1]);
    assert.ok(handshake > Date.now() / 1000 - 300, 'the relay reads the WireGuard handshake');
  });

  it('tells when home is back: an upstream-up alert', async () => {
    await startHome('home-back', BLOG, { http: false });
    await waitFor(async () => (await curl(['-k', '--resolve', `${BLOG}:443:${net.publicVps}`, `https://${BLOG}/`]).catch(() => '')).startsWith('home'), { timeoutMs: 20_000, what: 'the blog through the relay again' });
    const posts = await webhook.waitForPosts(2, 30_000);
    assert.equal(posts[1]!.kind, 'upstream-up');
  });
});
