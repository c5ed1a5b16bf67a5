/**
 * HTTP/2 clients that bend the protocol, against a real Kirin over TLS:
 *
 * - a `host` field that names another authority than `:authority` (RFC 9113
 *   §8.3.1) is malformed: 400, for an app route and a proxy route alike, so
 *   nothing behind Kirin ever reads a host the request was not routed by (it
 *   used to reach the upstream as sent, around the unknown-host 421);
 * - a client that keeps its flow-control window at zero cannot hold a stream
 *   open for ever: after `limits.sendTimeout` the stream is reset (nginx's
 *   send_timeout), and the connection goes on serving.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { constants, type ClientHttp2Session } from 'node:http2';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startKirin, tempDir, writeFiles, type KirinProcess } from '../support/kirin.ts';
import { h2Get, h2Session } from '../support/tls-client.ts';

const APP = `
export default {
  fetch(request: Request) {
    const url = new URL(request.url);
    if (url.pathname === '/big') return new Response('x'.repeat(256 * 1024));
    return new Response('app saw host ' + request.headers.get('host'));
  },
};
`;

describe('HTTP/2 hostile clients', () => {
  let kirin: KirinProcess;
  let httpsPort: number;
  let ca: Buffer;
  let upstream: Server;
  const upstreamHosts: (string | undefined)[] = [];

  before(async () => {
    const dir = tempDir('kirin-h2-hostile-');
    upstream = createServer((req, res) => {
      upstreamHosts.push(req.headers.host);
      res.end(`upstream saw host ${req.headers.host}`);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamPort = (upstream.address() as { port: number }).port;
    writeFiles(dir, {
      'app.ts': APP,
      'kirin.config.json': JSON.stringify({
        listen: { https: ['127.0.0.1:0'] },
        limits: { sendTimeout: '300ms' },
        workers: 1,
        admin: false,
        accessLog: false,
        stateDir: './state',
        sites: {
          'app.localhost': {
            '/': { app: './app.ts' },
            '/api/': { proxy: `http://127.0.0.1:${upstreamPort}` },
          },
        },
      }),
    });
    kirin = await startKirin({ cwd: dir, args: ['serve', '--config', 'kirin.config.json'] });
    httpsPort = Number(new URL(kirin.urls.find((u) => u.startsWith('https:'))!).port);
    ca = readFileSync(join(dir, 'state', 'tls', 'local-ca', 'root.crt'));
  });
  after(async () => {
    await kirin?.stop();
    upstream?.close();
  });

  it('answers 400 when the host field differs from :authority, on an app route and a proxy route', async () => {
    const session = h2Session(httpsPort, 'app.localhost', ca);
    try {
      for (const path of ['/x', '/api/x']) {
        // node:http2 sends no :authority of its own when given a host field: both are set, as a hostile client would.
        const spoofed = await h2Get(session, path, { ':authority': `app.localhost:${httpsPort}`, host: 'evil.test' });
        assert.equal(spoofed.status, 400, `${path}: ${spoofed.body}`);
        assert.match(spoofed.body, /host header differs from :authority/);
      }
      assert.deepEqual(upstreamHosts, [], 'nothing reached the upstream');
      // The same name in another case is the same authority; no host field at all is the common case.
      const app = await h2Get(session, '/x', { ':authority': `app.localhost:${httpsPort}`, host: `APP.localhost:${httpsPort}` });
      assert.equal(app.status, 200);
      assert.equal(app.body.toLowerCase(), `app saw host app.localhost:${httpsPort}`);
      const proxied = await h2Get(session, '/api/x');
      assert.equal(proxied.status, 200);
      assert.equal(proxied.body, `upstream saw host app.localhost:${httpsPort}`);
    } finally {
      session.close();
    }
  });

  it('resets a stream whose client keeps its window at zero once sendTimeout passes, and keeps serving the connection', async () => {
    // Every stream of this connection starts with a window of zero: no DATA frame can be sent until the client opens it.
    const session: ClientHttp2Session = h2Session(httpsPort, 'app.localhost', ca, { initialWindowSize: 0 });
    try {
      const stream = session.request({ ':path': '/big' });
      stream.end();
      const status = await new Promise<number>((resolve) => stream.once('response', (headers) => resolve(Number(headers[':status']))));
      assert.equal(status, 200, 'the head goes out: HEADERS frames are not flow-controlled');
      const closedWith = await new Promise<number>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error('the stalled stream is still open after 10 s')), 10_000);
        stream.once('close', () => {
          clearTimeout(deadline);
          resolve(stream.rstCode);
        });
        stream.on('error', () => {});
      });
      assert.equal(closedWith, constants.NGHTTP2_CANCEL);
      // The connection itself is fine: a client that reads gets its answers on it.
      session.settings({ initialWindowSize: 65_535 });
      const next = await h2Get(session, '/x');
      assert.equal(next.status, 200);
    } finally {
      session.close();
    }
  });
});
