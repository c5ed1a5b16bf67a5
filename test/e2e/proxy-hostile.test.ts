/**
 * Hostile inputs in front of a proxied upstream (ANCHORS.md, "Proxy and
 * headers"): request smuggling in its known shapes, malformed heads, hosts
 * that try to name another site, and request forms that must never be
 * forwarded. Each time Kirin answers 4xx and closes the connection, the
 * upstream never sees a smuggled or forwarded-by-mistake request, and the same
 * worker keeps serving.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rawRequest, request } from '../support/http.ts';
import { portOf, ROOT, startKirin, tempDir, writeConfig, type KirinProcess } from '../support/kirin.ts';

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: hostile.test\r\n\r\n';

/** name → [raw request, expected status] */
const SMUGGLING: Record<string, [string, number]> = {
  'CL.TE (Content-Length and Transfer-Encoding)': [`POST / HTTP/1.1\r\nHost: hostile.test\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, 400],
  'TE.CL (Transfer-Encoding then Content-Length)': [`POST / HTTP/1.1\r\nHost: hostile.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n`, 400],
  'two different Content-Length values': [`POST / HTTP/1.1\r\nHost: hostile.test\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhello${SMUGGLED}`, 400],
  'obfuscated Transfer-Encoding: xchunked': [`POST / HTTP/1.1\r\nHost: hostile.test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, 400],
  'obfuscated Transfer-Encoding: chunked, identity': [`POST / HTTP/1.1\r\nHost: hostile.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`, 400],
  'obfuscated Transfer-Encoding: given twice': [`POST / HTTP/1.1\r\nHost: hostile.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n${SMUGGLED}`, 400],
  'obfuscated Transfer-Encoding: vertical tab': [`POST / HTTP/1.1\r\nHost: hostile.test\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, 400],
  'space before the colon (Transfer-Encoding)': [`POST / HTTP/1.1\r\nHost: hostile.test\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, 400],
  'space before the colon (Content-Length)': [`POST / HTTP/1.1\r\nHost: hostile.test\r\nContent-Length : 5\r\n\r\nhello`, 400],
  'bare LF line endings': [`GET / HTTP/1.1\nHost: hostile.test\n\n${SMUGGLED}`, 400],
  'bare CR inside the head': [`GET / HTTP/1.1\r\nHost: hostile.test\rX-Smuggled: yes\r\n\r\n`, 400],
  'obs-fold (a header continued on the next line)': [`GET / HTTP/1.1\r\nHost: hostile.test\r\nX-Folded: a\r\n Transfer-Encoding: chunked\r\n\r\n`, 400],
  'bare LF after a chunk size': [`POST / HTTP/1.1\r\nHost: hostile.test\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n${SMUGGLED}`, 400],
  'a huge chunk extension': [`POST / HTTP/1.1\r\nHost: hostile.test\r\nTransfer-Encoding: chunked\r\n\r\n5;${'x'.repeat(20_000)}\r\nhello\r\n0\r\n\r\n${SMUGGLED}`, 400],
  'a negative Content-Length': [`POST / HTTP/1.1\r\nHost: hostile.test\r\nContent-Length: -1\r\n\r\n${SMUGGLED}`, 400],
};

describe('hostile inputs in front of a proxied upstream', () => {
  let kirin: KirinProcess;
  let port: number;
  let upstream: Server;
  const seen: string[] = [];

  before(async () => {
    upstream = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} host=${req.headers.host}`);
      req.resume();
      req.on('end', () => res.end('upstream ok'));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    const dir = tempDir();
    copyFileSync(join(ROOT, 'test/fixtures/apps/pid-fetch.ts'), join(dir, 'pid.ts'));
    writeConfig(dir, {
      sites: {
        'hostile.test': { tls: 'off', '/pid': { app: './pid.ts' }, '/': { proxy: upstreamUrl } },
        'good.test': { tls: 'off', '/': { proxy: upstreamUrl } },
      },
    });
    kirin = await startKirin({ cwd: dir, args: ['serve'] });
    port = portOf(kirin.url);
  });

  after(async () => {
    await kirin?.stop();
    upstream?.closeAllConnections();
    await new Promise<void>((resolve) => upstream?.close(() => resolve()));
  });

  async function workerPid(): Promise<string> {
    const res = await request(`${kirin.url}/pid`, { headers: { host: 'hostile.test' } });
    assert.equal(res.status, 200);
    return res.headers['x-worker-pid'] as string;
  }

  /**
   * Sends `raw`, expects `status` and a closed connection, and that nothing
   * smuggled reached the upstream; then the same worker still proxies.
   * Returns what the upstream saw of the hostile request.
   */
  async function refused(raw: string, status: number, what: string): Promise<string[]> {
    const pid = await workerPid();
    seen.length = 0;
    const res = await rawRequest(port, raw, { timeoutMs: 5_000 });
    const reached = [...seen];
    assert.equal(res.status, status, `${what}: ${JSON.stringify(res.raw.slice(0, 80))}`);
    assert.ok(res.closed, `${what}: the connection must be closed`);
    assert.deepEqual(
      reached.filter((line) => line.includes('/smuggled') || line.includes('169.254')),
      [],
      `${what}: nothing smuggled reaches the upstream`,
    );
    assert.equal(await workerPid(), pid, `${what}: the same worker keeps serving`);
    const normal = await request(`${kirin.url}/after`, { headers: { host: 'hostile.test' } });
    assert.equal(normal.body, 'upstream ok', `${what}: proxying still works`);
    return reached;
  }

  for (const [name, [raw, status]] of Object.entries(SMUGGLING)) {
    it(`refuses request smuggling: ${name}`, async () => {
      await refused(raw, status, name);
    });
  }

  it('refuses more header fields than the limit (431)', async () => {
    const many = Array.from({ length: 300 }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
    await refused(`GET / HTTP/1.1\r\nHost: hostile.test\r\n${many}\r\n`, 431, 'too many headers');
  });

  it('refuses Host: good.test:x@evil.test (400) instead of proxying it anywhere', async () => {
    assert.deepEqual(await refused('GET / HTTP/1.1\r\nHost: good.test:x@evil.test\r\n\r\n', 400, 'userinfo in Host'), []);
  });

  it('never proxies an absolute-form request to the metadata address', async () => {
    assert.deepEqual(await refused('GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nHost: hostile.test\r\n\r\n', 400, 'absolute-form'), []);
    assert.deepEqual(await refused('GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n', 421, 'absolute-form with a matching Host'), []);
  });

  it('never opens a CONNECT tunnel', async () => {
    assert.deepEqual(await refused('CONNECT 169.254.169.254:80 HTTP/1.1\r\nHost: 169.254.169.254:80\r\n\r\n', 405, 'CONNECT'), []);
    assert.deepEqual(await refused('CONNECT hostile.test:80 HTTP/1.1\r\nHost: hostile.test\r\n\r\n', 405, 'CONNECT to a site'), []);
  });

  it('never lets an upgrade other than WebSocket through (h2c smuggling)', async () => {
    const h2c = 'GET / HTTP/1.1\r\nHost: hostile.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n';
    assert.deepEqual(await refused(h2c, 501, 'h2c upgrade'), []);
  });

  it('kept one worker through all of it', () => {
    assert.doesNotMatch(kirin.output(), /died \(|uncaught|ERR_HTTP_HEADERS_SENT/);
  });
});
