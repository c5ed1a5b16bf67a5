/**
 * Automatic certificates against Pebble (Let's Encrypt's test CA): issuance by
 * HTTP-01 and by TLS-ALPN-01 for a site with two names, verified with curl and
 * openssl against Pebble's root; renewal under load with zero failed requests;
 * and a CA that is down: backoff and retries while other sites keep serving,
 * then the certificate once it is back.
 *
 * Pebble validates on fixed ports, so every Kirin here listens on the same two
 * loopback ports, one after the other.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { request } from '../support/http.ts';
import { freePort, KIRIN_BIN, startKirin, tempDir, waitFor, writeFiles, type KirinProcess, type LogLine } from '../support/kirin.ts';
import { startPebble, type Pebble } from '../support/pebble.ts';
import { h2Get, h2Session, opensslClient, tlsHandshake, tlsRequest } from '../support/tls-client.ts';

const run = promisify(execFile);
const SHOP = 'shop.kirin-test.org';
const WWW = 'www.shop.kirin-test.org';
const APP = `export default { fetch: (r: Request) => new Response('shop ' + new URL(r.url).pathname) };\n`;

const obtained = (names: string) => (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith(`certificate for ${names} obtained`);

describe('automatic HTTPS with an ACME CA (Pebble)', () => {
  let dir: string;
  let pebble: Pebble;
  let httpPort: number;
  let tlsPort: number;
  let kirin: KirinProcess | null = null;

  before(async () => {
    dir = tempDir('kirin-https-acme-');
    [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
    pebble = await startPebble({ dir, httpPort, tlsPort });
  });
  after(() => pebble?.close());
  afterEach(async () => {
    await kirin?.stop();
    kirin = null;
  });

  /** A project folder with the shop site (and more sites), served on the two ports Pebble validates. */
  async function serve(name: string, options: { http?: boolean; extraSites?: Record<string, unknown>; env?: NodeJS.ProcessEnv; waitReady?: boolean } = {}): Promise<{ kirin: KirinProcess; project: string }> {
    const project = join(dir, name);
    writeFiles(project, {
      'app.ts': APP,
      'kirin.config.json': JSON.stringify({
        workers: 2,
        admin: false,
        accessLog: false,
        stateDir: './state',
        tls: { acme: pebble.directory, caBundle: pebble.apiCaFile, email: 'ops@kirin-test.org' },
        listen: { ...(options.http === false ? {} : { http: [`127.0.0.1:${httpPort}`] }), https: [`127.0.0.1:${tlsPort}`] },
        sites: { [`${SHOP}, ${WWW}`]: { '/': { app: './app.ts' } }, ...options.extraSites },
      }),
    });
    kirin = await startKirin({ cwd: project, args: ['serve', '--config', 'kirin.config.json'], env: options.env });
    return { kirin, project };
  }

  async function assertVerifiesWithPebbleRoot(): Promise<void> {
    const rootFile = await pebble.rootFile();
    for (const name of [SHOP, WWW]) {
      const { stdout } = await run('curl', ['-sS', '--max-time', '10', '--cacert', rootFile, '--resolve', `${name}:${tlsPort}:127.0.0.1`, `https://${name}:${tlsPort}/hello`]);
      assert.equal(stdout, 'shop /hello');
      const s = await opensslClient(tlsPort, ['-servername', name, '-CAfile', rootFile, '-verify_return_error', '-verify_hostname', name]);
      assert.ok(s.ok, s.output);
      assert.match(s.output, /Verify return code: 0 \(ok\)/);
    }
  }

  it('obtains a certificate for a site with two names by HTTP-01, and keeps it in the store (0700/0600)', async () => {
    const { kirin, project } = await serve('http-01');
    const line = await kirin.waitForLine(obtained(`${SHOP}, ${WWW}`), 30_000, 'the certificate');
    assert.match(String(kirin.lines.find((l) => String(l.msg).startsWith(`obtaining a certificate for ${SHOP}`))?.msg), /\(http-01\)$/);
    assert.match(String(line.issuer), /^Pebble Intermediate CA/);
    await assertVerifiesWithPebbleRoot();
    const certDir = join(project, 'state', 'tls', 'certificates', SHOP);
    assert.equal(statSync(certDir).mode & 0o777, 0o700);
    for (const file of ['cert.pem', 'key.pem', 'meta.json']) assert.equal(statSync(join(certDir, file)).mode & 0o777, 0o600, file);
    const meta = JSON.parse(readFileSync(join(certDir, 'meta.json'), 'utf8'));
    assert.deepEqual(meta.names, [SHOP, WWW]);
    assert.equal(meta.source, 'acme');
    assert.ok(meta.renewAt < meta.notAfter && meta.renewAt > Date.now());
    const account = join(project, 'state', 'tls', 'acme', `localhost_${new URL(pebble.directory).port}`, 'account.json');
    assert.ok(existsSync(account));
    assert.equal(statSync(account).mode & 0o777, 0o600);
    assert.equal(existsSync(join(project, 'state', 'tls', 'locks', `${SHOP}.lock`)), false, 'the order lock is released');
    // Plain HTTP now moves to HTTPS.
    const redirect = await request(`http://127.0.0.1:${httpPort}/x`, { headers: { host: WWW } });
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.location, `https://${WWW}:${tlsPort}/x`);
    // `kirin certs renew NAME` renews now and says so; the next handshake gets the new certificate.
    const before = (await tlsHandshake(tlsPort, WWW)).cert.serialNumber;
    const renewed = await run(process.execPath, [KIRIN_BIN, 'certs', 'renew', WWW, '--config', 'kirin.config.json'], { cwd: project });
    assert.match(renewed.stdout, /^renewed: shop\.kirin-test\.org, www\.shop\.kirin-test\.org from Pebble Intermediate CA/);
    assert.notEqual((await tlsHandshake(tlsPort, WWW)).cert.serialNumber, before);
  });

  it('obtains a certificate by TLS-ALPN-01 when Kirin has no plain HTTP listener', async () => {
    const { kirin } = await serve('tls-alpn-01', { http: false });
    await kirin.waitForLine(obtained(`${SHOP}, ${WWW}`), 30_000, 'the certificate');
    assert.match(String(kirin.lines.find((l) => String(l.msg).startsWith(`obtaining a certificate for ${SHOP}`))?.msg), /\(tls-alpn-01\)$/);
    await assertVerifiesWithPebbleRoot();
    // The validation certificate is gone once the order is done: acme-tls/1 gets an alert again.
    await assert.rejects(tlsHandshake(tlsPort, SHOP, ['acme-tls/1']), /alert|protocol/i);
  });

  it('renews under load without one failed request: new handshakes get the new certificate', async () => {
    const { kirin } = await serve('renewal', { env: { KIRIN_TEST_RENEW_AFTER_MS: '1500' } });
    await kirin.waitForLine(obtained(`${SHOP}, ${WWW}`), 30_000, 'the certificate');
    const root = await pebble.root();
    const serials = new Set<string>();
    const failures: string[] = [];
    let requests = 0;
    let running = true;
    const newConnections = async () => {
      while (running) {
        try {
          const res = await tlsRequest({ port: tlsPort, host: requests % 2 ? SHOP : WWW, path: '/load', ca: root });
          if (res.status !== 200 || res.body !== 'shop /load') failures.push(`status ${res.status}`);
          serials.add(res.cert.serialNumber);
        } catch (error) {
          failures.push((error as Error).message);
        }
        requests++;
      }
    };
    const keepAlive = async () => {
      const session = h2Session(tlsPort, SHOP, root);
      try {
        while (running) {
          try {
            const res = await h2Get(session, '/h2');
            if (res.status !== 200) failures.push(`h2 status ${res.status}`);
          } catch (error) {
            failures.push(`h2: ${(error as Error).message}`);
          }
          requests++;
        }
      } finally {
        session.close();
      }
    };
    const loops = [newConnections(), newConnections(), newConnections(), keepAlive()];
    try {
      await waitFor(() => serials.size >= 3, { timeoutMs: 30_000, what: 'two renewals while under load' });
    } finally {
      running = false;
      await Promise.all(loops);
    }
    assert.deepEqual(failures, []);
    assert.ok(requests > 50, `${requests} requests`);
    assert.ok(kirin.lines.filter((l) => String(l.msg).startsWith(`certificate for ${SHOP}, ${WWW} renewed`)).length >= 2);
    const { stdout } = await run(process.execPath, [KIRIN_BIN, 'certs', '--json', '--config', 'kirin.config.json'], { cwd: join(dir, 'renewal') });
    const [status] = JSON.parse(stdout) as { state: string; names: string[] }[];
    assert.deepEqual(status!.names, [SHOP, WWW]);
  });

  it('keeps serving other sites while the CA is down, retries with growing delays, and gets the certificate once it is back', async () => {
    await pebble.stop();
    // Ready at once: issuance never holds up start-up.
    const { kirin, project } = await serve('ca-down', {
      env: { KIRIN_TEST_ACME_RETRY_MS: '300' },
      extraSites: { 'app.localhost': { '/': { respond: 'local site' } } },
    });
    const failed = (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith(`could not obtain the certificate for ${SHOP}, ${WWW}`);
    await waitFor(() => kirin.lines.filter(failed).length >= 3, { timeoutMs: 30_000, what: 'three failed attempts' });
    const delays = kirin.lines.filter(failed).map((l) => Number(l.retryInMs));
    assert.deepEqual(delays.slice(0, 3), [300, 600, 1200]);
    assert.match(String(kirin.lines.find(failed)!.msg), /ECONNREFUSED|connect/);
    // The local site serves over HTTPS meanwhile.
    const localRoot = readFileSync(join(project, 'state', 'tls', 'local-ca', 'root.crt'));
    const local = await tlsRequest({ port: tlsPort, host: 'app.localhost', ca: localRoot });
    assert.equal(local.body, 'local site');
    // The waiting site: HTTP says the certificate is on its way, HTTPS gets an alert (no other site's certificate).
    const waiting = await request(`http://127.0.0.1:${httpPort}/`, { headers: { host: SHOP } });
    assert.equal(waiting.status, 503);
    assert.match(waiting.body, /certificate for shop\.kirin-test\.org is on its way/);
    await assert.rejects(tlsHandshake(tlsPort, SHOP), /alert|handshake failure/i);
    const { stdout } = await run(process.execPath, [KIRIN_BIN, 'certs', '--config', 'kirin.config.json'], { cwd: project });
    assert.match(stdout, /shop\.kirin-test\.org, www\.shop\.kirin-test\.org\s+acme\s+(failed|pending)/);
    assert.match(stdout, /last attempt failed: .*(ECONNREFUSED|connect)/);

    await pebble.start();
    await kirin.waitForLine(obtained(`${SHOP}, ${WWW}`), 30_000, 'the certificate once the CA is back');
    await assertVerifiesWithPebbleRoot();
  });

  it('stops without waiting for a CA that does not answer', async () => {
    // A "CA" that accepts connections and never says a word.
    const silent = createNetServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const project = join(dir, 'silent-ca');
    writeFiles(project, {
      'kirin.config.json': JSON.stringify({
        workers: 1,
        admin: false,
        accessLog: false,
        stateDir: './state',
        tls: { acme: `https://127.0.0.1:${(silent.address() as { port: number }).port}/dir` },
        listen: { http: ['127.0.0.1:0'], https: ['127.0.0.1:0'] },
        sites: { [SHOP]: { '/': { respond: 'x' } } },
      }),
    });
    try {
      const stuck = await startKirin({ cwd: project, args: ['serve', '--config', 'kirin.config.json'] });
      await stuck.waitForLine((l) => String(l.msg).startsWith(`obtaining a certificate for ${SHOP}`), 20_000, 'the order to start');
      // stop() sends SIGKILL if Kirin is still there after its deadline: exiting by itself, with 0, is the point.
      await stuck.stop();
      assert.deepEqual(await stuck.exited, { code: 0, signal: null });
    } finally {
      silent.close();
    }
  });
});
