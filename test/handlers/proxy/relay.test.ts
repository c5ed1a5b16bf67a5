/**
 * The proxy's fast lane (src/handlers/proxy/relay.ts) on the real request
 * path, against real upstreams on loopback: what it forwards and answers is
 * what the full path (undici) would, and whatever it does not handle goes to
 * the full path. `laneAnswers()` tells which path answered: a request sent
 * with `Connection: keep-alive, x-full-path` is one the lane never takes (the
 * full path strips the named field, which is never sent).
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { RawConnection, type WireResponse } from '../../support/http.ts';
import { waitFor } from '../../support/kirin.ts';
import { testServers, type Edge } from './harness.ts';

const { cleanup, upstream, rawUpstream, edge } = testServers();

async function connection(e: Edge): Promise<RawConnection> {
  const c = await RawConnection.open(e.port);
  cleanup.push(() => c.destroy());
  return c;
}

/** A request head; `fullPath` makes it one the lane leaves to node:http and undici. */
function get(path: string, fields: string[] = [], options: { method?: string; fullPath?: boolean } = {}): string {
  const connectionField = options.fullPath ? ['Connection: keep-alive, x-full-path'] : [];
  return [`${options.method ?? 'GET'} ${path} HTTP/1.1`, 'Host: a.test', ...connectionField, ...fields, '', ''].join('\r\n');
}

/** A response reduced to what a client relies on: status, fields (lower-case names, in order, no Date) and body. */
function meaning(response: WireResponse): { status: number; fields: string[]; body: string } {
  const fields = response.head
    .split('\r\n')
    .slice(1)
    .map((line) => {
      const colon = line.indexOf(':');
      return `${line.slice(0, colon).toLowerCase()}: ${line.slice(colon + 1).trim()}`;
    })
    .filter((field) => !field.startsWith('date: '))
    .sort();
  return { status: response.status, fields, body: response.body.toString('latin1') };
}

/** What the upstream saw, minus the `connection: keep-alive` undici adds (the relay sends HTTP/1.1's default unsaid). */
function forwarded(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const { connection: _connection, ...rest } = headers;
  return rest;
}

describe('proxy relay: what reaches the upstream', () => {
  it('forwards a plain GET exactly as the full path does: normalized target, hop-by-hop fields gone, Kirin’s X-Forwarded-*', async () => {
    const up = await upstream((req, res) => res.end(`${req.method} ${req.url}`));
    const e = await edge({ sites: { 'a.test': { '/api/': { proxy: up.url, stripPrefix: true } } } });
    const c = await connection(e);
    const fields = [
      'User-Agent: relay-test',
      'Accept: */*',
      'X-Forwarded-For: 203.0.113.7',
      'X-Forwarded-Proto: https',
      'TE: trailers',
      'Keep-Alive: timeout=1',
      'Proxy-Authorization: Basic c2VjcmV0',
      'Cookie: session=1',
    ];
    const relayed = await c.exchange(get('/api/./items/../things%20x?q=1', fields));
    assert.equal(e.laneAnswers(), 1);
    const full = await c.exchange(get('/api/./items/../things%20x?q=1', fields, { fullPath: true }));
    assert.equal(e.laneAnswers(), 1, 'the second request took the full path');
    assert.equal(relayed.body.toString(), 'GET /things%20x?q=1');
    assert.deepEqual(meaning(relayed), meaning(full));
    const [viaRelay, viaFull] = up.seen;
    assert.deepEqual(forwarded(viaRelay!.headers), forwarded(viaFull!.headers));
    assert.deepEqual(forwarded(viaRelay!.headers), {
      host: 'a.test',
      'user-agent': 'relay-test',
      accept: '*/*',
      cookie: 'session=1',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'a.test',
    });
    assert.equal(viaRelay!.headers.connection, undefined);
  });

  it('sends the upstream’s own Host with preserveHost: false, and HEAD as HEAD', async () => {
    const up = await upstream((_req, res) => res.writeHead(200, { 'content-length': '5' }).end('hello'));
    const e = await edge({ sites: { 'a.test': { '/': { proxy: { to: up.url, preserveHost: false } } } } });
    const c = await connection(e);
    const head = await c.exchange(get('/h', ['X-Late: 1'], { method: 'HEAD' }));
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '5');
    assert.equal(head.body.length, 0);
    assert.equal((await c.exchange(get('/after-head'))).body.toString(), 'hello', 'the connection still frames correctly after a HEAD');
    assert.equal(e.laneAnswers(), 2);
    assert.equal(up.seen[0]!.method, 'HEAD');
    assert.equal(up.seen[0]!.headers.host, `127.0.0.1:${up.port}`);
    assert.deepEqual(up.seen[0]!.rawHeaders.slice(0, 2), ['host', `127.0.0.1:${up.port}`], 'Host first, as undici sends it');
    assert.equal(up.seen[0]!.headers['x-late'], '1');
  });

  it('behind a trusted proxy, forwards the client it names and the scheme it saw', async () => {
    const up = await upstream((_req, res) => res.end('ok'));
    const e = await edge({ trustedProxies: ['127.0.0.1'], sites: { 'a.test': { '/': { proxy: up.url } } } });
    const c = await connection(e);
    await c.exchange(get('/', ['X-Forwarded-For: 198.51.100.1, 203.0.113.9', 'X-Forwarded-Proto: https']));
    assert.equal(e.laneAnswers(), 1);
    assert.equal(up.seen[0]!.headers['x-forwarded-for'], '203.0.113.9');
    assert.equal(up.seen[0]!.headers['x-forwarded-proto'], 'https');
  });

  it('reuses its upstream connections', async () => {
    const up = await upstream((_req, res) => res.end('ok'));
    let connections = 0;
    up.server.on('connection', () => connections++);
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url } } } });
    const c = await connection(e);
    for (let i = 0; i < 5; i++) assert.equal((await c.exchange(get(`/${i}`))).status, 200);
    assert.equal(e.laneAnswers(), 5);
    assert.equal(connections, 1);
  });
});

describe('proxy relay: what reaches the client', () => {
  it('answers with the upstream’s end-to-end fields, as the full path does', async () => {
    const up = await rawUpstream((socket) =>
      socket.on('data', () =>
        socket.write(
          'HTTP/1.1 201 Whatever\r\nContent-Type: text/plain\r\nX-A: 1\r\nSet-Cookie: a=1\r\nx-a: 2\r\nSet-Cookie: b=2\r\n' +
            'Connection: keep-alive, X-Secret\r\nX-Secret: internal\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nContent-Length: 5\r\n\r\nhello',
        ),
      ),
    );
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url } } } });
    const c = await connection(e);
    const relayed = await c.exchange(get('/'));
    const full = await c.exchange(get('/', [], { fullPath: true }));
    assert.equal(e.laneAnswers(), 1);
    assert.deepEqual(meaning(relayed), meaning(full));
    assert.match(relayed.head, /^HTTP\/1\.1 201 Created\r\n/);
    assert.equal(relayed.headers['x-secret'], undefined);
    assert.equal(relayed.headers['proxy-authenticate'], undefined);
    assert.equal(relayed.headers.connection, 'keep-alive');
    assert.ok(relayed.headers.date, 'a Date field, as node:http adds');
  });

  it('passes a chunked body on as it comes, without trailers', async () => {
    const up = await rawUpstream((socket) =>
      socket.on('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5;ext=1\r\nhello\r\n');
        setImmediate(() => socket.write('1\r\n \r\n5\r\nworld\r\n0\r\nX-Sum: 11\r\n\r\n'));
      }),
    );
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url } } } });
    const c = await connection(e);
    const first = await c.exchange(get('/'));
    assert.equal(first.body.toString(), 'hello world');
    assert.equal(first.headers.trailer, undefined);
    assert.equal(first.wire!.toString(), '5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n');
    assert.equal((await c.exchange(get('/again'))).body.toString(), 'hello world', 'the client connection goes on');
    assert.equal(e.laneAnswers(), 2);
    assert.equal(up.connections(), 1, 'so does the upstream one');
  });

  it('frames a body the upstream ends by closing as chunked, so the client’s connection stays open', async () => {
    const up = await rawUpstream((socket) =>
      socket.once('data', () => {
        socket.write('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ');
        setImmediate(() => socket.end('the end'));
      }),
    );
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url } } } });
    const c = await connection(e);
    const first = await c.exchange(get('/'));
    assert.equal(first.headers['transfer-encoding'], 'chunked');
    assert.equal(first.body.toString(), 'until the end');
    assert.equal((await c.exchange(get('/next'))).body.toString(), 'until the end');
    assert.equal(e.laneAnswers(), 2);
    assert.equal(up.connections(), 2);
  });

  it('sends no body for 204 and 304, and a long body whole', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 'k');
    const up = await upstream((req, res) => {
      if (req.url === '/204') res.writeHead(204).end();
      else if (req.url === '/304') res.writeHead(304, { etag: '"v1"' }).end();
      else res.end(big);
    });
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url } } } });
    const c = await connection(e);
    assert.equal((await c.exchange(get('/204'))).status, 204);
    const notModified = await c.exchange(get('/304'));
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.etag, '"v1"');
    const whole = await c.exchange(get('/big'));
    assert.equal(whole.body.length, big.length);
    assert.ok(whole.body.equals(big));
    assert.equal(e.laneAnswers(), 3);
  });

  it('answers pipelined requests in order', async () => {
    let release: (() => void) | null = null;
    const up = await upstream((req, res) => {
      if (req.url === '/slow') release = () => res.end('slow');
      else res.end('fast');
    });
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url } } } });
    const c = await connection(e);
    c.write(get('/slow'));
    await waitFor(() => release !== null, { what: 'the slow request to reach the upstream' });
    c.write(get('/fast'));
    release!();
    assert.equal((await c.read()).body.toString(), 'slow');
    assert.equal((await c.read()).body.toString(), 'fast');
    assert.equal(e.laneAnswers(), 2);
  });
});

describe('proxy relay: failures go to the full path', () => {
  it('an upstream that closed a reused connection is tried again, and not counted as failing', async () => {
    // Answers the first request on each connection, then drops it when the next one comes (an idle close racing the request).
    const up = await rawUpstream((socket) => {
      let answered = false;
      socket.on('data', () => {
        if (answered) return void socket.destroy();
        answered = true;
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
    });
    const e = await edge({ sites: { 'a.test': { '/': { proxy: { to: up.url, maxFails: 1 } } } } });
    const c = await connection(e);
    assert.equal((await c.exchange(get('/1'))).status, 200);
    assert.equal((await c.exchange(get('/2'))).status, 200);
    assert.deepEqual(e.notifications, [], 'the target was never taken out');
  });

  it('a failing upstream gets the full path’s error page and passive health, and the relay again once it answers', async () => {
    let healthy = false;
    const up = await rawUpstream((socket) =>
      socket.on('data', () => {
        if (!healthy) return void socket.resetAndDestroy();
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      }),
    );
    const e = await edge({ sites: { 'a.test': { '/': { proxy: { to: up.url, maxFails: 100, retries: 0 } } } } });
    const c = await connection(e);
    assert.equal((await c.exchange(get('/'))).status, 502);
    assert.equal(e.laneAnswers(), 0);
    healthy = true;
    const c2 = await connection(e);
    // The full path answers until the target's first success; the relay takes over after it.
    assert.equal((await c2.exchange(get('/'))).status, 200);
    assert.equal(e.laneAnswers(), 0);
    // A connection the lane handed to node:http stays there: the next one starts in the lane again.
    const c3 = await connection(e);
    assert.equal((await c3.exchange(get('/'))).status, 200);
    assert.equal(e.laneAnswers(), 1);
  });
});
