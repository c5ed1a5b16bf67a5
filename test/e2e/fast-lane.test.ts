/**
 * The fast lane (src/worker/fast-lane.ts) through a real Kirin: plain GET and
 * HEAD requests for small static files answered with ready bytes. What a user
 * relies on is that nobody can tell: the same bytes as the full path, the same
 * refusals, the same logs and metrics, the same timeouts — and that anything
 * unusual on a connection is node:http's from then on.
 *
 * `kirin_http_fast_lane_requests_total` says which requests the lane took, so
 * these tests know which path answered.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync } from 'node:zlib';
import { metric, startWithAdmin } from '../support/admin.ts';
import { bothLanes, RawConnection, type WireResponse } from '../support/http.ts';
import { portOf, startKirin, tempDir, waitFor, writeFiles, type KirinProcess } from '../support/kirin.ts';

const KIB = 'k'.repeat(1023) + '\n';
/** Beyond the 16 KiB copied behind the head: the lane writes the cached body as its own buffer. */
const BIG = Buffer.alloc(64 * 1024, 7);
const CSS = `body { color: #333; }\n${'.rule { margin: 0; }\n'.repeat(40)}`;

function get(path: string, fields = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: lane-test/1\r\n${fields}\r\n`;
}

/** The head without its Date field (the one thing that differs from second to second). */
function withoutDate(response: WireResponse): string {
  return response.head.replace(/\r\nDate: [^\r]*/, '');
}

describe('the fast lane', () => {
  let kirin: KirinProcess;
  let admin: string;
  let port: number;
  let dir: string;
  let upstream: Server;

  const laneCount = async () => (await metric(admin, 'kirin_http_fast_lane_requests_total')) ?? 0;
  const routeCount = async (route: string) => (await metric(admin, 'kirin_http_requests_total', { site: 'localhost, 127.0.0.1', route, status_class: '2xx' })) ?? 0;
  /** Waits until the metrics account for `more` 2xx requests on `route` since `from`; returns the fast lane's share. */
  async function laneShare(route: string, from: { lane: number; route: number }, more: number): Promise<number> {
    await waitFor(async () => (await routeCount(route)) >= from.route + more, { what: `${more} requests on ${route} in the metrics` });
    assert.equal(await routeCount(route), from.route + more, 'every request counted once');
    return (await laneCount()) - from.lane;
  }
  const counts = async (route = '/') => ({ lane: await laneCount(), route: await routeCount(route) });

  before(async () => {
    dir = tempDir('kirin-fast-lane-');
    upstream = createServer((req, res) => res.writeHead(201, { 'content-type': 'text/plain' }).end(`upstream saw ${req.url}`));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    writeFiles(dir, {
      'kirin.config.json': JSON.stringify({
        admin: { listen: '127.0.0.1:0' },
        accessLog: './access.log',
        limits: { keepAliveTimeout: 1, headerTimeout: 1 },
        sites: {
          'localhost, 127.0.0.1': {
            '/': { static: './root' },
            '/private/': { static: './root', headers: { response: { set: { 'x-frame-options': 'DENY' } } } },
            '/proxied/': { proxy: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` },
          },
        },
      }),
      'root/1k.html': KIB,
      'root/style.css': CSS,
      'root/style.css.br': brotliCompressSync(CSS),
      'root/big.bin': BIG,
      'root/streamed.bin': Buffer.alloc(1024 * 1024 + 1, 9),
      'root/changing.txt': 'version one\n',
      'root/.env': 'SECRET=1\n',
    });
    ({ kirin, admin } = await startWithAdmin(dir, 1));
    port = portOf(kirin.url);
  });
  after(async () => {
    await kirin?.stop();
    upstream?.closeAllConnections();
    upstream?.close();
  });

  it('answers plain GET and HEAD byte for byte as the full path does', async () => {
    const cases = [get('/1k.html'), `HEAD /1k.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, get('/style.css', 'Accept-Encoding: gzip, br\r\n'), get('/style.css')];
    const before = await counts();
    for (const request of cases) {
      const { fast, full, second } = await bothLanes(port, request);
      assert.equal(fast.status, 200, request);
      assert.equal(withoutDate(fast), withoutDate(full), `same head: ${request}`);
      assert.equal(withoutDate(second), withoutDate(full));
      assert.deepEqual(fast.body, full.body, `same body: ${request}`);
      assert.match(fast.head, /\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT/);
    }
    const br = await (await RawConnection.open(port)).exchange(get('/style.css', 'Accept-Encoding: br\r\n'));
    assert.equal(br.headers['content-encoding'], 'br', 'the precompressed sidecar for a client that takes it');
    assert.equal(br.headers.vary, 'accept-encoding');
    assert.equal(await laneShare('/', before, cases.length * 3 + 1), cases.length + 1, 'the lane took the lone requests, and only those');
  });

  it('gives a connection to node:http at the first request it does not take; answers stay in order', async () => {
    const before = await counts();
    const connection = await RawConnection.open(port);
    assert.equal((await connection.exchange(get('/1k.html'))).status, 200);
    const partial = await connection.exchange(get('/1k.html', 'Range: bytes=0-9\r\n'));
    assert.equal(partial.status, 206);
    assert.equal(partial.body.toString(), KIB.slice(0, 10));
    assert.equal((await connection.exchange(get('/1k.html'))).body.toString(), KIB);
    connection.write(get('/1k.html') + `HEAD /1k.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n` + get('/style.css'));
    assert.equal((await connection.read()).body.toString(), KIB);
    assert.equal((await connection.read({ head: true })).headers['content-length'], '1024');
    assert.equal((await connection.read()).body.toString(), CSS);
    connection.destroy();
    assert.equal(await laneShare('/', before, 6), 1, 'only the first request, before the range');
  });

  it('leaves every refusal to node:http and the full request path', async () => {
    const refused: [string, number][] = [
      ['GET /1k.html HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: localhost\r\n\r\n', 400],
      ['GET /1k.html HTTP/1.1\r\nUser-Agent: x\r\n\r\n', 400],
      ['GET /1k.html HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Name: x\r\n\r\n', 400],
      ['GET /1k.html HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Fold: a\r\n  b\r\n\r\n', 400],
      ['GET /1k.html HTTP/1.1\nHost: 127.0.0.1\n\n', 400],
      ['GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 400],
      ['GET /1k.html HTTP/1.1\r\nHost: evil.test\r\n\r\n', 421],
      ['GET /.env HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 404],
      ['GET /missing.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 404],
      [`GET /1k.html HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(17 * 1024)}\r\n\r\n`, 431],
      ['POST /1k.html HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n', 405],
    ];
    const lane = await laneCount();
    for (const [request, status] of refused) {
      const connection = await RawConnection.open(port);
      const answer = await connection.exchange(request);
      connection.destroy();
      assert.equal(answer.status, status, JSON.stringify(request.slice(0, 60)));
      assert.ok(!answer.body.toString('latin1').includes(KIB), 'no file bytes in a refusal');
    }
    // The metrics are at least a heartbeat behind: wait for the refusals to show, then compare.
    await waitFor(async () => ((await metric(admin, 'kirin_http_requests_total', { site: '', route: '', status_class: '4xx' })) ?? 0) >= 1, { what: 'the refusals in the metrics' });
    assert.equal(await laneCount(), lane, 'none of them answered by the lane');
  });

  it('serves routes with middleware on the full path', async () => {
    // Metrics name a route by its prefix without the trailing slash.
    const before = await counts('/private');
    const res = await (await RawConnection.open(port)).exchange(get('/private/1k.html'));
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-frame-options'], 'DENY', 'the route headers applied');
    assert.equal(await laneShare('/private', before, 1), 0);
  });

  it('answers a larger file in memory with its head and cached body in one writev, twice on one connection', async () => {
    const before = await counts();
    const connection = await RawConnection.open(port);
    for (let i = 0; i < 2; i++) {
      const res = await connection.exchange(get('/big.bin'));
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-length'], String(BIG.length));
      assert.ok(res.body.equals(BIG), 'the body intact');
    }
    connection.destroy();
    assert.equal(await laneShare('/', before, 2), 2);
  });

  it('leaves files streamed from disk (beyond 1 MiB) to the full path', async () => {
    const before = await counts();
    const res = await (await RawConnection.open(port)).exchange(get('/streamed.bin'));
    assert.equal(res.body.length, 1024 * 1024 + 1);
    assert.equal(await laneShare('/', before, 1), 0);
  });

  it('logs what it answers as the full path does', async () => {
    const before = await counts();
    const connection = await RawConnection.open(port);
    const res = await connection.exchange(get('/1k.html?from=lane', 'X-Forwarded-For: 203.0.113.9\r\n'));
    connection.destroy();
    const bytes = res.head.length + 4 + res.body.length;
    const line = await waitFor(
      () => {
        const lines = readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean);
        return lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.path === '/1k.html?from=lane');
      },
      { what: 'the access log line' },
    );
    assert.deepEqual(
      { client: line.client, method: line.method, host: line.host, status: line.status, bytes: line.bytes, ua: line.ua, site: line.site },
      // No trusted proxies: X-Forwarded-For is not believed.
      { client: '127.0.0.1', method: 'GET', host: '127.0.0.1', status: 200, bytes, ua: 'lane-test/1', site: 'localhost, 127.0.0.1' },
    );
    assert.equal(typeof line.duration_ms, 'number');
    assert.equal(await laneShare('/', before, 1), 1);
  });

  it('relays plain requests to a proxy route, logged and metered as the full path does', async () => {
    const before = await counts('/proxied');
    const connection = await RawConnection.open(port);
    const res = await connection.exchange(get('/proxied/a?b=1'));
    // The upstream answers chunked (writeHead before end): the wire carries the chunk framing too.
    const bytes = res.head.length + 4 + (res.wire ?? res.body).length;
    connection.destroy();
    assert.equal(res.status, 201);
    assert.equal(res.body.toString(), 'upstream saw /proxied/a?b=1');
    const line = await waitFor(
      () => {
        const lines = readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean);
        return lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.path === '/proxied/a?b=1');
      },
      { what: 'the access log line' },
    );
    assert.deepEqual({ status: line.status, bytes: line.bytes, method: line.method, client: line.client }, { status: 201, bytes, method: 'GET', client: '127.0.0.1' });
    assert.equal(await laneShare('/proxied', before, 1), 1);
  });

  it('keeps a connection in the lane while a file changes, and serves the new bytes within about a second', async () => {
    const before = await counts();
    const connection = await RawConnection.open(port);
    assert.equal((await connection.exchange(get('/changing.txt'))).body.toString(), 'version one\n');
    writeFileSync(join(dir, 'root/changing.txt'), 'version two, longer\n');
    let requests = 1;
    await waitFor(
      async () => {
        requests++;
        const res = await connection.exchange(get('/changing.txt'));
        assert.equal(res.status, 200);
        return res.body.toString() === 'version two, longer\n';
      },
      { intervalMs: 100, what: 'the new version' },
    );
    connection.destroy();
    assert.equal(await laneShare('/', before, requests), requests, 'the lane looked at the disk again itself; the connection never left it');
  });

  it('closes a connection idle past the keep-alive timeout, and one that never sends', async () => {
    const before = await counts();
    const used = await RawConnection.open(port);
    await used.exchange(get('/1k.html'));
    const silent = await RawConnection.open(port);
    // limits.keepAliveTimeout and headerTimeout are 1 s here; RawConnection.read waits up to 5 s.
    await assert.rejects(used.read(), /closed the connection/);
    await assert.rejects(silent.read(), /closed the connection/);
    assert.equal(await laneShare('/', before, 1), 1);
  });

  it('answers a client that half-closes after its request, then closes', async () => {
    const before = await counts();
    // changing.txt was last looked at a while ago: the lane checks the disk before it answers.
    for (const path of ['/1k.html', '/changing.txt']) {
      const connection = await RawConnection.open(port);
      connection.write(get(path));
      connection.end();
      assert.equal((await connection.read()).status, 200, path);
      await connection.closed;
    }
    assert.equal(await laneShare('/', before, 2), 2);
  });
});

describe('the fast lane and worker recycling', () => {
  it('counts its requests toward --max-requests', async () => {
    const dir = tempDir('kirin-fast-lane-max-');
    writeFiles(dir, { 'kirin.config.json': JSON.stringify({ admin: false, sites: { '*': { '/': { static: './root' } } } }), 'root/1k.html': KIB });
    const kirin = await startKirin({ cwd: dir, args: ['serve', '--workers', '1', '--bind', '127.0.0.1:0', '--max-requests', '20', '--max-requests-jitter', '0', '--state-dir', join(dir, 'state')] });
    try {
      const port = portOf(kirin.url);
      const connection = await RawConnection.open(port);
      for (let i = 0; i < 25; i++) assert.equal((await connection.exchange(get('/1k.html'))).status, 200);
      connection.destroy();
      await kirin.waitForLine((l) => /max-requests/.test(String(l.reason ?? l.msg ?? '')), 15_000, 'a worker retired for max-requests');
    } finally {
      await kirin.stop();
    }
  });
});
