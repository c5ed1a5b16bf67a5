/**
 * A worker's https listener on its own, fed by a fake master: SNI picks what
 * the master pushed, swaps take effect for new handshakes while open
 * connections go on, TLS-ALPN-01 validations get the challenge certificate,
 * HTTP-01 tokens are answered before routing, drain sends GOAWAY.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import acme from 'acme-client';
import { pino } from 'pino';
import { normalizeConfig } from '../../src/config/normalize.ts';
import { LocalCa, type IssuedLeaf } from '../../src/tls/local-ca.ts';
import { TLS_MESSAGES, type ChallengeState, type TlsSnapshot, type WorkerCertificate } from '../../src/tls/messages.ts';
import { createSecureServer, type SecureServer } from '../../src/tls/server.ts';
import { workerTls } from '../../src/tls/worker-tls.ts';
import type { WorkerServices } from '../../src/worker/context.ts';
import type { Pipeline } from '../../src/worker/pipeline.ts';
import { request } from '../support/http.ts';
import { tempDir } from '../support/kirin.ts';
import { h2Get, h2Session, tlsHandshake, tlsRequest } from '../support/tls-client.ts';

const cert = (id: string, leaf: IssuedLeaf): WorkerCertificate => ({ id, names: [id], ...leaf });

describe('https listener (worker side)', () => {
  const pushListeners = new Map<string, (payload: unknown) => void>();
  const notified: { type: string; payload: unknown }[] = [];
  const ticketKeys = randomBytes(48);
  let ca: LocalCa;
  let root: string;
  let server: SecureServer;
  let port: number;
  let pipeline: Pipeline;
  const push = (type: string, payload: unknown) => pushListeners.get(type)!(payload);

  before(async () => {
    ca = new LocalCa(tempDir());
    const a = await ca.issue(['a.localhost']);
    root = readFileSync(ca.rootPath, 'utf8');
    const snapshot: TlsSnapshot = { certificates: [cert('a.localhost', a)], challenges: { version: 0, http01: {}, alpn: [] }, ticketKeys: ticketKeys.toString('base64') };
    const worker: WorkerServices = {
      logger: pino({ level: 'silent' }),
      ask: async <T,>() => snapshot as T,
      onPush: (type, listener) => pushListeners.set(type, listener),
      notify: (type, payload) => notified.push({ type, payload }),
    };
    pipeline = {
      beforeRoute: null,
      onRequest: (req: IncomingMessage, res: ServerResponse) => {
        if (req.url === '/hop-by-hop') {
          // What an HTTP/1.1 app may set: fine there, forbidden in HTTP/2 (and Node throws on some).
          res.setHeader('Keep-Alive', 'timeout=5');
          res.setHeader('Connection', 'keep-alive');
          res.writeHead(200, ['Transfer-Encoding', 'chunked', 'Upgrade', 'h2c', 'x-kept', 'yes']);
          res.end('hop');
          return;
        }
        res.end(`${req.httpVersion} ${req.headers.host ?? req.headers[':authority']} ${req.url}`);
      },
      onUpgrade: () => {},
    } as unknown as Pipeline;
    const plan = normalizeConfig({ raw: { sites: { 'a.localhost': { '/': { respond: 'x' } } } }, file: null, cwd: '/', env: {} });
    server = (await createSecureServer({ fd: -1, secure: true, spec: '127.0.0.1:0' }, pipeline, plan, worker, true)) as unknown as SecureServer;
    await new Promise<void>((resolve) => (server as unknown as Server).listen(0, '127.0.0.1', resolve));
    port = ((server as unknown as Server).address() as { port: number }).port;
  });
  after(() => (server as unknown as Server)?.close());

  it('serves the certificate the master sent for the SNI name, over HTTP/2 and HTTP/1.1', async () => {
    const h1 = await tlsRequest({ port, host: 'a.localhost', path: '/p', ca: root });
    assert.equal(h1.body, '1.1 a.localhost /p');
    assert.equal(h1.cert.subjectaltname, 'DNS:a.localhost');
    const session = h2Session(port, 'a.localhost', root);
    assert.equal((await h2Get(session, '/q')).body, '2.0 a.localhost:' + port + ' /q');
    session.close();
    assert.equal(workerTls.httpsPort, port);
    assert.deepEqual(server.getTicketKeys(), ticketKeys);
  });

  it('drops connection-specific headers over HTTP/2 instead of failing the response', async () => {
    const session = h2Session(port, 'a.localhost', root);
    const res = await h2Get(session, '/hop-by-hop');
    session.close();
    assert.equal(res.status, 200);
    assert.equal(res.body, 'hop');
    assert.equal(res.headers['x-kept'], 'yes');
    for (const name of ['transfer-encoding', 'upgrade', 'keep-alive', 'connection']) assert.equal(res.headers[name], undefined, name);
    const h1 = await tlsRequest({ port, host: 'a.localhost', path: '/hop-by-hop', ca: root });
    assert.equal(h1.headers['x-kept'], 'yes');
  });

  it('refuses CONNECT over HTTP/2 with a 405, as over HTTP/1.1', async () => {
    const session = h2Session(port, 'a.localhost', root);
    try {
      const stream = session.request({ ':method': 'CONNECT', ':authority': 'example.com:443' });
      const [status, body] = await new Promise<[number, string]>((resolve, reject) => {
        let code = 0;
        let text = '';
        stream.setEncoding('utf8');
        stream.on('response', (headers) => (code = Number(headers[':status'])));
        stream.on('data', (chunk: string) => (text += chunk));
        stream.on('end', () => resolve([code, text]));
        stream.on('error', reject);
      });
      assert.equal(status, 405);
      assert.equal(body, '405 Method Not Allowed: CONNECT is not supported\n');
    } finally {
      session.close();
    }
  });

  it('adds, replaces and removes certificates for new handshakes; open connections keep going', async () => {
    await assert.rejects(tlsHandshake(port, 'b.localhost'), /alert|handshake failure/i);
    push(TLS_MESSAGES.certificate, cert('b.localhost', await ca.issue(['b.localhost'])));
    assert.equal((await tlsRequest({ port, host: 'b.localhost', ca: root })).cert.subjectaltname, 'DNS:b.localhost');

    const session = h2Session(port, 'a.localhost', root);
    const before = (await tlsRequest({ port, host: 'a.localhost', ca: root })).cert.serialNumber;
    await h2Get(session, '/before');
    push(TLS_MESSAGES.certificate, cert('a.localhost', await ca.issue(['a.localhost'])));
    const renewed = (await tlsRequest({ port, host: 'a.localhost', ca: root })).cert.serialNumber;
    assert.notEqual(renewed, before);
    push(TLS_MESSAGES.certificateRemoved, { id: 'a.localhost' });
    await assert.rejects(tlsHandshake(port, 'a.localhost'), /alert|handshake failure/i);
    assert.equal((await h2Get(session, '/after')).status, 200, 'the connection made before still serves');
    session.close();
    push(TLS_MESSAGES.certificate, cert('a.localhost', await ca.issue(['a.localhost'])));
  });

  it('answers a TLS-ALPN-01 validation with the challenge certificate, and only while it is pending', async () => {
    const keyAuthorization = 'token-123.thumbprint';
    const [key, alpnCert] = await acme.crypto.createAlpnCertificate({ identifier: { type: 'dns', value: 'c.example.com' } } as never, keyAuthorization);
    const state: ChallengeState = { version: 7, http01: {}, alpn: [{ id: 'c.example.com', names: ['c.example.com'], certPem: alpnCert.toString(), keyPem: key.toString() }] };
    push(TLS_MESSAGES.challenges, state);
    assert.deepEqual(notified.at(-1), { type: TLS_MESSAGES.challengesApplied, payload: { version: 7 } });
    const validation = await tlsHandshake(port, 'c.example.com', ['acme-tls/1']);
    assert.equal(validation.alpn, 'acme-tls/1');
    const pem = `-----BEGIN CERTIFICATE-----\n${validation.cert.raw.toString('base64')}\n-----END CERTIFICATE-----\n`;
    assert.ok(acme.crypto.isAlpnCertificateAuthorizationValid(pem, keyAuthorization));
    // Not for ordinary clients, and not for a name without a pending challenge.
    await assert.rejects(tlsHandshake(port, 'c.example.com', ['h2', 'http/1.1']), /alert|handshake failure/i);
    await assert.rejects(tlsHandshake(port, 'b.localhost', ['acme-tls/1']), /alert|protocol/i);
    push(TLS_MESSAGES.challenges, { version: 8, http01: {}, alpn: [] });
    await assert.rejects(tlsHandshake(port, 'c.example.com', ['acme-tls/1']), /alert|protocol/i);
  });

  it('answers HTTP-01 tokens before routing, and lets other paths through', async () => {
    const http = createServer((req, res) => {
      if (!pipeline.beforeRoute!(req, res)) res.end('routed');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
    try {
      push(TLS_MESSAGES.challenges, { version: 9, http01: { 'tok-A': 'tok-A.thumb' }, alpn: [] });
      const answered = await request(`${url}/.well-known/acme-challenge/tok-A`);
      assert.equal(answered.status, 200);
      assert.equal(answered.body, 'tok-A.thumb');
      assert.equal((await request(`${url}/.well-known/acme-challenge/other`)).body, 'routed');
      assert.equal((await request(`${url}/`)).body, 'routed');
    } finally {
      http.close();
    }
  });

  it('follows the master’s ticket keys (every worker resumes every session)', async () => {
    const keys = randomBytes(48);
    push(TLS_MESSAGES.ticketKeys, { keys: keys.toString('base64') });
    assert.deepEqual(server.getTicketKeys(), keys);
    const first = await tlsRequest({ port, host: 'b.localhost', ca: root });
    const again = await tlsRequest({ port, host: 'b.localhost', ca: root, session: first.session });
    assert.equal(again.reused, true);
  });

  it('sends GOAWAY to HTTP/2 clients on drain (closeSessions)', async () => {
    const session = h2Session(port, 'b.localhost', root);
    await h2Get(session, '/');
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    server.closeSessions();
    await goaway;
    session.close();
  });
});
