/**
 * The relay role end to end over loopback: a real Kirin relay on 127.0.0.1
 * (and a second one on 127.0.0.5) forwarding to a real home Kirin on
 * 127.0.0.2 with PROXY listeners, clients on their own loopback addresses.
 * What a relay refuses (names, per-client caps, silence, idleness, malformed
 * first bytes), that it passes bytes faithfully (half-close, a 4 MB body), and
 * what it reports. The tunnel itself is test/relay/tunnel.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { apiStatus, metric } from '../support/admin.ts';
import { freePort, startKirin, tempDir, waitFor, writeFiles, type KirinProcess } from '../support/kirin.ts';

const run = promisify(execFile);
const SHOP = 'shop.localhost';
const PLAIN = 'plain.test';
const BIG = 4 * 1024 * 1024;
const APP = `
const big = 'x'.repeat(${BIG});
export default {
  fetch(r: Request) {
    const url = new URL(r.url);
    if (url.pathname === '/big') return new Response(big);
    return new Response(url.hostname + ' sees ' + r.headers.get('x-forwarded-for'));
  },
};
`;

interface Exchange {
  data: Buffer;
  /** ms from connect to close. */
  closedAfterMs: number;
}

/** Connects from `localAddress`, writes `bytes` (then ends, when asked), and resolves with everything read once the connection closes. */
function exchange(port: number, bytes: string | Buffer | null, options: { host?: string; localAddress?: string; end?: boolean } = {}): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    const socket = connect({ host: options.host ?? '127.0.0.1', port, localAddress: options.localAddress ?? '127.0.0.3' }, () => {
      if (bytes === null) return;
      if (options.end) socket.end(bytes);
      else socket.write(bytes);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => resolve({ data: Buffer.concat(chunks), closedAfterMs: Date.now() - started }));
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within 20 s; read so far: ${Buffer.concat(chunks).toString().slice(0, 200)}`));
    }, 20_000).unref();
  });
}

function openIdle(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
    socket.on('error', reject);
  });
}

describe('kirin relay (loopback)', () => {
  let dir: string;
  let httpPort: number;
  let httpsPort: number;
  let home: KirinProcess;
  let strict: KirinProcess;
  let open: KirinProcess;
  let admin: string;

  before(async () => {
    dir = tempDir('kirin-relay-');
    [httpPort, httpsPort] = await Promise.all([freePort(), freePort()]);
    writeFiles(join(dir, 'home'), {
      'app.ts': APP,
      'kirin.config.json': JSON.stringify({
        workers: 1,
        admin: false,
        accessLog: false,
        stateDir: './state',
        trustedProxies: ['127.0.0.1'],
        // Long keep-alive at home, so a connection the relay closes was closed by the relay's idle timeout.
        limits: { keepAliveTimeout: 60 },
        listen: { http: [{ address: `127.0.0.2:${httpPort}`, proxyProtocol: true }], https: [{ address: `127.0.0.2:${httpsPort}`, proxyProtocol: true }] },
        sites: { [SHOP]: { '/': { app: './app.ts' } }, [PLAIN]: { tls: 'off', '/': { app: './app.ts' } } },
      }),
    });
    home = await startKirin({ cwd: join(dir, 'home'), args: ['serve', '--config', 'kirin.config.json'] });
    // "strict": names, a cap of 3 connections per client, the admin listener.
    writeFiles(join(dir, 'strict'), {
      'kirin.config.json': JSON.stringify({
        stateDir: './state',
        admin: { listen: '127.0.0.1:0' },
        relay: { to: '127.0.0.2', listen: [`127.0.0.1:${httpPort}`, `127.0.0.1:${httpsPort}`], names: [SHOP, PLAIN], maxConnectionsPerClient: 3 },
      }),
    });
    strict = await startKirin({ cwd: join(dir, 'strict'), args: ['serve', '--config', 'kirin.config.json', '--log-level', 'debug'] });
    admin = (await strict.waitForLine((l) => typeof l.admin === 'string', 10_000, 'the admin line')).admin as string;
    // "open": every name, short idle and header timeouts.
    writeFiles(join(dir, 'open'), {
      'kirin.config.json': JSON.stringify({
        stateDir: './state',
        admin: false,
        limits: { headerTimeout: 1 },
        relay: { to: '127.0.0.2', listen: [`127.0.0.5:${httpPort}`, `127.0.0.5:${httpsPort}`], idleTimeout: 1 },
      }),
    });
    open = await startKirin({ cwd: join(dir, 'open'), args: ['serve', '--config', 'kirin.config.json'] });
  });

  after(async () => {
    await Promise.all([strict?.stop(), open?.stop(), home?.stop()]);
  });

  it('passes TLS through by SNI: the home answers with its own certificate and sees the client', async () => {
    const { stdout } = await run('curl', ['-sS', '-k', '--max-time', '10', '--interface', '127.0.0.3', '-w', ' %{ssl_verify_result}', '--resolve', `${SHOP}:${httpsPort}:127.0.0.1`, `https://${SHOP}:${httpsPort}/`]);
    assert.match(stdout, new RegExp(`^${SHOP} sees 127\\.0\\.0\\.3 `));
    const issuer = await run('sh', ['-c', `openssl s_client -connect 127.0.0.1:${httpsPort} -servername ${SHOP} </dev/null 2>/dev/null | openssl x509 -noout -issuer`]);
    assert.match(issuer.stdout, /Kirin/i, 'the certificate comes from the home Kirin (its local CA)');
  });

  it('closes a TLS connection for a name not in relay.names, before any handshake', async () => {
    await assert.rejects(run('curl', ['-sS', '-k', '--max-time', '10', '--resolve', `other.localhost:${httpsPort}:127.0.0.1`, `https://other.localhost:${httpsPort}/`]), /SSL|reset|closed/i);
    await assert.rejects(run('curl', ['-sS', '-k', '--max-time', '10', `https://127.0.0.1:${httpsPort}/`]), /SSL|reset|closed/i, 'no SNI at all');
  });

  it('relays plain HTTP by Host, answers 421 for other names and 400 for what is not HTTP', async () => {
    const ok = await exchange(httpPort, `GET / HTTP/1.1\r\nHost: ${PLAIN}\r\nConnection: close\r\n\r\n`);
    assert.match(ok.data.toString(), new RegExp(`^HTTP/1\\.1 200[^]*${PLAIN} sees 127\\.0\\.0\\.3$`));
    const other = await exchange(httpPort, 'GET / HTTP/1.1\r\nHost: other.test\r\n\r\n');
    assert.match(other.data.toString(), /^HTTP\/1\.1 421 [^]*does not relay that host name/);
    const garbage = await exchange(httpPort, 'HELLO\r\nTHERE\r\n\r\n');
    assert.match(garbage.data.toString(), /^HTTP\/1\.1 400 /);
  });

  it('holds each client to maxConnectionsPerClient; other clients are not affected', async () => {
    const held = await Promise.all([1, 2, 3].map(() => openIdle(httpPort, '127.0.0.6')));
    try {
      const fourth = await exchange(httpPort, `GET / HTTP/1.1\r\nHost: ${PLAIN}\r\nConnection: close\r\n\r\n`, { localAddress: '127.0.0.6' });
      assert.equal(fourth.data.length, 0, 'closed without an answer');
      const neighbour = await exchange(httpPort, `GET / HTTP/1.1\r\nHost: ${PLAIN}\r\nConnection: close\r\n\r\n`, { localAddress: '127.0.0.7' });
      assert.match(neighbour.data.toString(), /^HTTP\/1\.1 200/);
    } finally {
      for (const socket of held) socket.destroy();
    }
    await waitFor(async () => (await exchange(httpPort, `GET / HTTP/1.1\r\nHost: ${PLAIN}\r\nConnection: close\r\n\r\n`, { localAddress: '127.0.0.6' })).data.toString().startsWith('HTTP/1.1 200'), {
      what: 'the client to get connections again once its others closed',
    });
  });

  it('the home listener refuses a trusted peer that sends no PROXY header', async () => {
    const direct = await exchange(httpPort, `GET / HTTP/1.1\r\nHost: ${PLAIN}\r\n\r\n`, { host: '127.0.0.2', localAddress: '127.0.0.1' });
    assert.equal(direct.data.length, 0);
    await home.waitForLine((l) => String(l.msg).includes('refused a connection from 127.0.0.1 on a PROXY protocol listener: no PROXY protocol v2 header'), 10_000, 'the refusal');
  });

  it('keeps a half-closed client: the answer still comes back whole, 4 MB byte for byte', async () => {
    const response = await exchange(httpPort, `GET /big HTTP/1.1\r\nHost: ${PLAIN}\r\nConnection: close\r\n\r\n`, { host: '127.0.0.5', end: true });
    const text = response.data.toString('latin1');
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.equal(body.length, BIG);
    assert.equal(createHash('sha256').update(body).digest('hex'), createHash('sha256').update('x'.repeat(BIG)).digest('hex'));
  });

  it('closes a relayed connection idle longer than relay.idleTimeout (the home would keep it for 60 s)', async () => {
    const keptAlive = await exchange(httpPort, `GET / HTTP/1.1\r\nHost: ${PLAIN}\r\n\r\n`, { host: '127.0.0.5' });
    assert.match(keptAlive.data.toString(), /^HTTP\/1\.1 200/);
    assert.ok(keptAlive.closedAfterMs < 20_000);
  });

  it('closes a connection that sends nothing within the header timeout', async () => {
    const silent = await exchange(httpPort, null, { host: '127.0.0.5' });
    assert.equal(silent.data.length, 0);
  });

  it('reports connections, bytes, refusals and the home end on /metrics and /api/status', async () => {
    await waitFor(async () => ((await metric(admin, 'kirin_relay_connections_refused_total', { reason: 'client-limit' })) ?? 0) >= 1, { what: 'the client-limit refusal on /metrics' });
    assert.ok(((await metric(admin, 'kirin_relay_connections_refused_total', { reason: 'name' })) ?? 0) >= 3);
    assert.ok(((await metric(admin, 'kirin_relay_connections_refused_total', { reason: 'malformed' })) ?? 0) >= 1);
    assert.ok(((await metric(admin, 'kirin_relay_bytes_total', { direction: 'out' })) ?? 0) > 0);
    assert.equal(await metric(admin, 'kirin_upstream_up', { route: 'relay', url: 'tcp://127.0.0.2' }), 1);
    const status = await apiStatus<{ relay: { home: string; homeUp: boolean; names: string[]; ports: number[]; relayed: number } }>(admin);
    assert.equal(status.relay.home, 'tcp://127.0.0.2');
    assert.equal(status.relay.homeUp, true);
    assert.deepEqual(status.relay.names, [SHOP, PLAIN]);
    assert.deepEqual(status.relay.ports, [httpPort, httpsPort]);
    assert.ok(status.relay.relayed >= 4);
  });

  it('shows the relay on the dashboard (Chromium): the home end, connections and bytes', async () => {
    const context = await chromium.launchPersistentContext(tempDir('kirin-chromium-'), {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      await page.goto(`${admin}/`);
      await page.waitForSelector('#relay:not([hidden]) #relay-table tbody tr');
      const row = (await page.textContent('#relay-table tbody')) ?? '';
      assert.match(row, /tcp:\/\/127\.0\.0\.2/);
      assert.match(row, /up since/);
      assert.match(row, /client-limit [1-9]/);
      assert.match((await page.textContent('#relay-summary')) ?? '', new RegExp(`ports ${httpPort}, ${httpsPort} · ${SHOP}, ${PLAIN}`));
      assert.match((await page.textContent('#upstreams tbody')) ?? '', /relay\s*tcp:\/\/127\.0\.0\.2\s*healthy/);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
