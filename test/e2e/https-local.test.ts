/**
 * HTTPS without a CA on the internet: the local CA (curl with its root), the
 * redirect, HSTS, HTTP/2 (curl --http2 and node:http2) for apps, static files
 * and the proxy, SNI isolation, old TLS refused, certificates from files,
 * session resumption on any worker and across a reload, and `kirin certs`.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { request } from '../support/http.ts';
import { KIRIN_BIN, startKirin, tempDir, waitFor, writeFiles, type KirinProcess } from '../support/kirin.ts';
import { h2Get, h2Session, opensslClient, tlsHandshake, tlsRequest } from '../support/tls-client.ts';

const run = promisify(execFile);

const APP = `
export default {
  async fetch(request: Request) {
    const url = new URL(request.url);
    const pid = String(process.pid);
    if (url.pathname === '/cookies') {
      const headers = new Headers({ 'x-worker-pid': pid });
      headers.append('set-cookie', 'a=1; Path=/');
      headers.append('set-cookie', 'b=2; Path=/');
      return new Response('two cookies', { headers });
    }
    if (url.pathname === '/upload') return new Response('got ' + (await request.text()).length + ' bytes');
    if (url.pathname === '/slow') await new Promise((r) => setTimeout(r, Number(url.searchParams.get('ms'))));
    return new Response('hello ' + url.pathname + ' over ' + url.protocol, { headers: { 'x-worker-pid': pid } });
  },
};
`;

describe('HTTPS with the local CA', () => {
  let kirin: KirinProcess;
  let dir: string;
  let httpPort: number;
  let httpsPort: number;
  let root: string;
  let upstream: Server;
  let upstreamHeaders: Record<string, string | string[] | undefined> = {};

  before(async () => {
    dir = tempDir('kirin-https-local-');
    upstream = createServer((req, res) => {
      upstreamHeaders = req.headers;
      res.end(`upstream saw ${req.url}`);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamPort = (upstream.address() as { port: number }).port;
    // A certificate from files for one site (openssl is fine in tests; Kirin never runs it).
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'files.key', '-out', 'files.crt', '-days', '2', '-subj', '/CN=files.test', '-addext', 'subjectAltName=DNS:files.test'], {
      cwd: dir,
      stdio: 'pipe',
    });
    writeFiles(dir, {
      'app.ts': APP,
      'public/hello.txt': 'a static file\n',
      'kirin.config.json': JSON.stringify({
        workers: 2,
        admin: false,
        accessLog: false,
        stateDir: './state',
        listen: { http: ['127.0.0.1:0'], https: ['127.0.0.1:0'] },
        sites: {
          'app.localhost, www.app.localhost': {
            '/': { app: './app.ts' },
            '/upload': { app: './app.ts', maxBody: '1kb' },
            '/static/': { static: './public' },
            '/api/': { proxy: `http://127.0.0.1:${upstreamPort}` },
          },
          'other.localhost': { hsts: false, '/': { respond: 'the other site' } },
          'files.test': { tls: { cert: './files.crt', key: './files.key' }, '/': { respond: 'from files' } },
        },
      }),
    });
    kirin = await startKirin({ cwd: dir, args: ['serve', '--config', 'kirin.config.json'] });
    httpPort = Number(new URL(kirin.urls.find((u) => u.startsWith('http:'))!).port);
    httpsPort = Number(new URL(kirin.urls.find((u) => u.startsWith('https:'))!).port);
    root = join(dir, 'state', 'tls', 'local-ca', 'root.crt');
  });
  after(async () => {
    await kirin?.stop();
    upstream?.close();
  });

  const curl = async (...args: string[]) => (await run('curl', ['-sS', '--max-time', '10', '--resolve', `app.localhost:${httpsPort}:127.0.0.1`, ...args])).stdout;

  it('serves a local site over HTTPS that verifies against the root of the local CA (curl --cacert)', async () => {
    const out = await curl('--cacert', root, '-i', `https://app.localhost:${httpsPort}/hi`);
    assert.match(out, /^HTTP\/2 200/);
    assert.match(out, /hello \/hi over https:/);
    const h1 = await curl('--cacert', root, '--http1.1', '-i', `https://app.localhost:${httpsPort}/hi`);
    assert.match(h1, /^HTTP\/1\.1 200/);
  });

  it('keeps the CA in the state folder: folders 0700, files 0600; `kirin trust --print` names the root', async () => {
    for (const file of ['root.crt', 'root.key', 'intermediate.crt', 'intermediate.key']) {
      const mode = statSync(join(dir, 'state', 'tls', 'local-ca', file)).mode & 0o777;
      assert.equal(mode, 0o600, file);
    }
    assert.equal(statSync(join(dir, 'state', 'tls', 'local-ca')).mode & 0o777, 0o700);
    const printed = (await run(process.execPath, [KIRIN_BIN, 'trust', '--print', '--config', 'kirin.config.json'], { cwd: dir })).stdout.trim();
    assert.equal(printed, root);
  });

  it('redirects plain HTTP to HTTPS with 308, keeping path and query, and sends no HSTS over HTTP', async () => {
    const res = await request(`http://127.0.0.1:${httpPort}/a/b?x=1&y=2`, { headers: { host: 'www.app.localhost' } });
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, `https://www.app.localhost:${httpsPort}/a/b?x=1&y=2`);
    assert.equal(res.headers['strict-transport-security'], undefined);
  });

  it('does not redirect ACME challenge paths', async () => {
    const res = await request(`http://127.0.0.1:${httpPort}/.well-known/acme-challenge/unknown-token`, { headers: { host: 'app.localhost' } });
    assert.equal(res.status, 200);
    assert.match(res.body, /hello \/.well-known\/acme-challenge\/unknown-token over http:/);
  });

  it('sends HSTS on TLS responses (two years by default), none where the site turns it off', async () => {
    const on = await tlsRequest({ port: httpsPort, host: 'app.localhost', ca: readFileSync(root) });
    assert.equal(on.headers['strict-transport-security'], 'max-age=63072000');
    const off = await tlsRequest({ port: httpsPort, host: 'other.localhost', ca: readFileSync(root) });
    assert.equal(off.body, 'the other site');
    assert.equal(off.headers['strict-transport-security'], undefined);
  });

  it('speaks HTTP/2 to node:http2 for apps, static files and the proxy, as HTTP/1.1 does', async () => {
    const session = h2Session(httpsPort, 'app.localhost', readFileSync(root));
    try {
      const [app, cookies, file, proxied] = await Promise.all([h2Get(session, '/x?q=1'), h2Get(session, '/cookies'), h2Get(session, '/static/hello.txt'), h2Get(session, '/api/thing?z=9')]);
      assert.equal(app.status, 200);
      assert.equal(app.body, 'hello /x over https:');
      assert.equal(app.headers['strict-transport-security'], 'max-age=63072000');
      assert.deepEqual(cookies.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
      assert.equal(file.status, 200);
      assert.equal(file.body, 'a static file\n');
      assert.match(String(file.headers['content-type']), /^text\/plain/);
      assert.equal(proxied.status, 200);
      assert.equal(proxied.body, 'upstream saw /api/thing?z=9');
      assert.equal(upstreamHeaders['x-forwarded-proto'], 'https');
      assert.equal(upstreamHeaders.host, `app.localhost:${httpsPort}`);
      assert.deepEqual(Object.keys(upstreamHeaders).filter((k) => k.startsWith(':')), [], 'no HTTP/2 pseudo-headers upstream');
    } finally {
      session.close();
    }
    const h1File = await tlsRequest({ port: httpsPort, host: 'app.localhost', path: '/static/hello.txt', ca: readFileSync(root) });
    assert.equal(h1File.body, 'a static file\n');
  });

  it('holds request bodies to the route limit over HTTPS as over HTTP (chunked HTTP/1.1, and HTTP/2)', async () => {
    const ca = readFileSync(root);
    const chunked = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: httpsPort, servername: 'app.localhost', ca, ALPNProtocols: ['http/1.1'] }, () => {
        const chunk = 'x'.repeat(4096);
        socket.write(`POST /upload HTTP/1.1\r\nHost: app.localhost\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`);
      });
      let raw = '';
      socket.on('data', (d: Buffer) => (raw += d.toString()));
      socket.on('close', () => resolve(raw));
      socket.on('error', reject);
      socket.setTimeout(5000, () => socket.destroy());
    });
    assert.match(chunked, /^HTTP\/1\.1 413 /);
    const session = h2Session(httpsPort, 'app.localhost', ca);
    try {
      const body = (size: number) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const stream = session.request({ ':path': '/upload', ':method': 'POST' });
          let status = 0;
          let text = '';
          stream.on('response', (h) => (status = Number(h[':status'])));
          stream.on('data', (d: Buffer) => (text += d.toString()));
          stream.on('end', () => resolve({ status, body: text }));
          stream.on('error', reject);
          stream.end('y'.repeat(size));
        });
      assert.deepEqual(await body(100), { status: 200, body: 'got 100 bytes' });
      assert.equal((await body(4096)).status, 413);
    } finally {
      session.close();
    }
  });

  it('gives an unknown name, or no name at all, a TLS alert and never another site’s certificate', async () => {
    await assert.rejects(tlsHandshake(httpsPort, 'unknown.localhost'), /alert|handshake failure/i);
    await assert.rejects(tlsHandshake(httpsPort, undefined), /alert|handshake failure/i);
    const other = await tlsHandshake(httpsPort, 'other.localhost');
    assert.deepEqual(other.cert.subjectaltname, 'DNS:other.localhost');
    const app = await tlsHandshake(httpsPort, 'www.app.localhost');
    assert.equal(app.cert.subjectaltname, 'DNS:app.localhost, DNS:www.app.localhost');
    const evil = await opensslClient(httpsPort, ['-servername', 'evil.localhost']);
    assert.equal(evil.ok, false);
    assert.match(evil.output, /alert handshake failure[\s\S]*no peer certificate available/);
  });

  it('refuses TLS 1.0 and 1.1 and ciphers without forward secrecy; offers TLS 1.2 and 1.3', async () => {
    const sClient = async (...args: string[]) => {
      const { ok, output } = await opensslClient(httpsPort, ['-servername', 'app.localhost', ...args]);
      return ok ? output : `FAILED ${output}`;
    };
    // SECLEVEL=0 lets the client offer the old versions, so a failure is the server's refusal.
    for (const old of ['-tls1', '-tls1_1']) assert.match(await sClient(old, '-cipher', 'DEFAULT@SECLEVEL=0'), /^FAILED/, `${old} must fail`);
    assert.match(await sClient('-tls1_2', '-cipher', 'AES128-SHA'), /^FAILED/, 'a cipher without forward secrecy must fail');
    assert.match(await sClient('-tls1_2'), /Protocol\s*: TLSv1\.2[\s\S]*Cipher\s*: ECDHE-ECDSA-/);
    assert.match(await sClient('-tls1_3'), /TLSv1\.3/);
  });

  it('serves a certificate from files', async () => {
    const res = await tlsRequest({ port: httpsPort, host: 'files.test', ca: readFileSync(join(dir, 'files.crt')) });
    assert.equal(res.body, 'from files');
  });

  it('lists the certificates with `kirin certs`', async () => {
    const { stdout } = await run(process.execPath, [KIRIN_BIN, 'certs', '--config', 'kirin.config.json'], { cwd: dir });
    assert.match(stdout, /app\.localhost, www\.app\.localhost\s+local\s+valid\s+Kirin Local Intermediate CA/);
    assert.match(stdout, /files\.test\s+files\s+valid/);
    const json = JSON.parse((await run(process.execPath, [KIRIN_BIN, 'certs', '--json', '--config', 'kirin.config.json'], { cwd: dir })).stdout) as { names: string[]; notAfter: number }[];
    assert.equal(json.length, 3);
    assert.ok(json.every((c) => c.notAfter > Date.now()));
  });

  it('resumes TLS sessions on any worker and across a reload (shared ticket keys)', async () => {
    const ca = readFileSync(root);
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const first = await tlsRequest({ port: httpsPort, host: 'app.localhost', ca, minVersion: version, maxVersion: version });
      assert.ok(first.session, `${version}: a session to resume`);
      const pids = new Set<string>([first.headers['x-worker-pid']!]);
      let session = first.session;
      for (let i = 0; i < 12; i++) {
        const next = await tlsRequest({ port: httpsPort, host: 'app.localhost', ca, session, minVersion: version, maxVersion: version });
        assert.equal(next.reused, true, `${version}: connection ${i + 2} resumed (worker ${next.headers['x-worker-pid']})`);
        pids.add(next.headers['x-worker-pid']!);
        session = next.session ?? session;
      }
    }
    const before = await tlsRequest({ port: httpsPort, host: 'app.localhost', ca });
    const oldPid = before.headers['x-worker-pid'];
    kirin.signal('SIGHUP');
    await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('reloaded: generation 2'), 30_000, 'the reload');
    await waitFor(async () => (await tlsRequest({ port: httpsPort, host: 'app.localhost', ca })).headers['x-worker-pid'] !== oldPid, { what: 'a new worker to answer' });
    const after = await tlsRequest({ port: httpsPort, host: 'app.localhost', ca, session: before.session });
    assert.equal(after.reused, true, 'a session from the old generation resumes on the new one');
    assert.notEqual(after.headers['x-worker-pid'], oldPid);
  });

  it('finishes HTTP/2 and HTTP/1.1 requests in flight when their worker drains (GOAWAY, then close)', async () => {
    const session = h2Session(httpsPort, 'app.localhost', readFileSync(root));
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    try {
      const first = await h2Get(session, '/pid');
      // Longer than a reload takes: the requests are still running when their worker is told to drain.
      const slow = h2Get(session, '/slow?ms=4000');
      const slowH1 = tlsRequest({ port: httpsPort, host: 'app.localhost', path: '/slow?ms=4000', ca: readFileSync(root) });
      kirin.signal('SIGHUP');
      await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('reloaded: generation 3'), 30_000, 'the second reload');
      await goaway;
      const res = await slow;
      assert.equal(res.status, 200);
      assert.equal(res.body, 'hello /slow over https:');
      assert.equal(res.headers['x-worker-pid'], first.headers['x-worker-pid']);
      const h1 = await slowH1;
      assert.equal(h1.status, 200);
      assert.equal(h1.body, 'hello /slow over https:');
    } finally {
      session.close();
    }
  });
});
