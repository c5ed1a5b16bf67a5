/**
 * The proxy handler on the real request path (config → plan → pipeline →
 * node:http), in this process, against real upstream servers on loopback.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect as connectHttp2, createServer as createHttp2Server } from 'node:http2';
import { createServer as createNetServer } from 'node:net';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { rawRequest, request } from '../../support/http.ts';
import { tempDir, waitFor } from '../../support/kirin.ts';
import { postSlowly, startEdge, testServers } from './harness.ts';

const { cleanup, upstream, rawUpstream: rawServer, edge } = testServers();

/** A loopback port with nothing listening (connect is refused). */
async function deadUrl(): Promise<string> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe('proxy: forwarding', () => {
  it('forwards method, normalized path, query and body, and streams the answer back', async () => {
    const up = await upstream((req, res, body) => {
      res.writeHead(201, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
      res.end(`${req.method} ${req.url} ${body}`);
    });
    const e = await edge({ sites: { 'a.test': { '/api/': { proxy: up.url, stripPrefix: true } } } });
    const res = await request(`${e.url}/api/./items/../things?x=1&y=%20`, { method: 'POST', headers: { host: 'a.test', 'content-type': 'text/plain' }, body: 'hello' });
    assert.equal(res.status, 201);
    assert.equal(res.headers['x-upstream'], 'yes');
    assert.equal(res.body, 'POST /things?x=1&y=%20 hello');
  });

  it('keeps the connection to the upstream alive across requests', async () => {
    const ports = new Set<number>();
    const up = await upstream((req, res) => {
      ports.add(req.socket.remotePort!);
      res.end('ok');
    });
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url } } } });
    for (let i = 0; i < 5; i++) assert.equal((await request(`${e.url}/`, { headers: { host: 'a.test' } })).status, 200);
    assert.equal(ports.size, 1);
  });

  it('reaches an upstream on a unix socket', async () => {
    const socketPath = join(tempDir(), 'up.sock');
    const up = await upstream((req, res) => res.end(`unix ${req.url} host=${req.headers.host}`), { socketPath });
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url } } } });
    const res = await request(`${e.url}/hi`, { headers: { host: 'a.test' } });
    assert.equal(res.body, 'unix /hi host=a.test');
  });

  it("sends the client's Host by default, the upstream's own with preserveHost: false", async () => {
    const up = await upstream((req, res) => res.end(String(req.headers.host)));
    const e = await edge({
      sites: {
        'a.test': { '/': { proxy: up.url } },
        'b.test': { '/': { proxy: { to: up.url, preserveHost: false } } },
      },
    });
    assert.equal((await request(`${e.url}/`, { headers: { host: 'a.test:8443' } })).body, 'a.test:8443');
    assert.equal((await request(`${e.url}/`, { headers: { host: 'b.test' } })).body, `127.0.0.1:${up.port}`);
  });

  it('passes HEAD, 204 and 304 answers through without a body', async () => {
    const up = await upstream((req, res) => {
      if (req.url === '/204') res.writeHead(204).end();
      else if (req.url === '/304') res.writeHead(304, { etag: '"x"' }).end();
      else res.writeHead(200, { 'content-length': '5' }).end(req.method === 'HEAD' ? undefined : 'hello');
    });
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url } } } });
    const head = await request(`${e.url}/`, { method: 'HEAD', headers: { host: 'a.test' } });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '5');
    assert.equal(head.body, '');
    assert.equal((await request(`${e.url}/204`, { headers: { host: 'a.test' } })).status, 204);
    const notModified = await request(`${e.url}/304`, { headers: { host: 'a.test' } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.etag, '"x"');
  });

  it('streams a large answer intact', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 'abcdefghij');
    const up = await upstream((_req, res) => res.end(big));
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url } } } });
    const res = await request(`${e.url}/`, { headers: { host: 'a.test' } });
    assert.equal(res.buffer.length, big.length);
    assert.ok(res.buffer.equals(big));
  });

  it('refuses TRACE, which would echo credentials back', async () => {
    const up = await upstream();
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url } } } });
    const res = await request(`${e.url}/`, { method: 'TRACE', headers: { host: 'a.test' } });
    assert.equal(res.status, 405);
    assert.equal(up.seen.length, 0);
  });
});

describe('proxy: forwarding headers', () => {
  it("replaces an untrusted client's X-Forwarded-* and Forwarded with what Kirin saw", async () => {
    const up = await upstream((req, res) => res.end(JSON.stringify(req.headers)));
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url } } } });
    const res = await request(`${e.url}/`, {
      headers: { host: 'a.test', 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.test', forwarded: 'for=6.6.6.6' },
    });
    const seen = JSON.parse(res.body) as Record<string, string>;
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-host'], 'a.test');
    assert.equal(seen.forwarded, undefined);
  });

  it('behind a trusted hop, forwards the rightmost untrusted address of the chain', async () => {
    const up = await upstream((req, res) => res.end(String(req.headers['x-forwarded-for'])));
    const e = await edge({ trustedProxies: ['127.0.0.1/32', '10.0.0.0/8'], sites: { 'a.test': { '/': { proxy: up.url } } } });
    const res = await request(`${e.url}/`, { headers: { host: 'a.test', 'x-forwarded-for': '198.51.100.7, 203.0.113.9, 10.1.2.3' } });
    assert.equal(res.body, '203.0.113.9');
  });

  it('removes hop-by-hop headers both ways, including those named in Connection, but keeps X-Forwarded-For', async () => {
    const up = await upstream((req, res) => {
      res.setHeader('connection', 'x-upstream-secret');
      res.setHeader('x-upstream-secret', 'internal');
      res.setHeader('keep-alive', 'timeout=5');
      res.setHeader('proxy-authenticate', 'Basic');
      res.setHeader('x-public', 'yes');
      res.end(JSON.stringify(req.headers));
    });
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url } } } });
    const res = await request(`${e.url}/`, {
      headers: {
        host: 'a.test',
        connection: 'keep-alive, x-client-secret, X-Forwarded-For',
        'x-client-secret': 'drop me',
        'proxy-authorization': 'Basic c2VjcmV0',
        te: 'trailers',
        'x-kept': 'yes',
      },
    });
    const seen = JSON.parse(res.body) as Record<string, string>;
    assert.equal(seen['x-client-secret'], undefined);
    assert.equal(seen['proxy-authorization'], undefined);
    assert.equal(seen.te, undefined);
    assert.equal(seen['x-kept'], 'yes');
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(res.headers['x-upstream-secret'], undefined);
    assert.equal(res.headers['proxy-authenticate'], undefined);
    assert.equal(res.headers['x-public'], 'yes');
  });
});

describe('proxy: failures', () => {
  it('answers 502 with a short page, naming no internal address, when the upstream refuses', async () => {
    const dead = await deadUrl();
    const e = await edge({ sites: { 'a.test': { '/': { proxy: dead } } } });
    const res = await request(`${e.url}/`, { headers: { host: 'a.test' } });
    assert.equal(res.status, 502);
    assert.match(res.body, /^502 Bad Gateway: the upstream server could not be reached/);
    assert.ok(!res.body.includes('127.0.0.1'));
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  });

  it('answers 504 when the upstream does not answer within responseTimeout', async () => {
    const silent = await rawServer(() => {});
    const e = await edge({ sites: { 'a.test': { '/': { proxy: { to: silent.url, responseTimeout: '300ms' } } } } });
    const res = await request(`${e.url}/`, { headers: { host: 'a.test' } });
    assert.equal(res.status, 504);
    assert.match(res.body, /did not answer in time/);
  });

  it('answers 502 to an upstream that sends garbage instead of HTTP', async () => {
    const garbage = await rawServer((socket) => socket.end('HELLO THERE\r\n\r\n'));
    const e = await edge({ sites: { 'a.test': { '/': { proxy: { to: garbage.url, retries: 0 } } } } });
    const res = await request(`${e.url}/`, { headers: { host: 'a.test' } });
    assert.equal(res.status, 502);
  });

  it('refuses (502) a 101 from an upstream to a request that did not ask to upgrade', async () => {
    const rogue = await rawServer((socket) =>
      socket.once('data', () => socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n')),
    );
    const e = await edge({ sites: { 'a.test': { '/': { proxy: { to: rogue.url, retries: 0 } } } } });
    const res = await request(`${e.url}/`, { headers: { host: 'a.test' } });
    assert.equal(res.status, 502);
    assert.match(res.body, /switched protocols without being asked/);
    // The worker still serves.
    assert.equal((await request(`${e.url}/`, { headers: { host: 'a.test' } })).status, 502);
  });

  it('cuts the response (never a second status) when the upstream dies midway', async () => {
    const half = await rawServer((socket) =>
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
        setImmediate(() => socket.destroy());
      }),
    );
    const e = await edge({ sites: { 'a.test': { '/': { proxy: half.url } } } });
    await assert.rejects(request(`${e.url}/`, { headers: { host: 'a.test' } }));
  });
});

describe('proxy: retries and passive health', () => {
  it('tries the next upstream when connecting fails, for GET and for a POST that sent nothing yet', async () => {
    const dead = await deadUrl();
    const live = await upstream((req, res, body) => res.end(`live ${req.method} ${body}`));
    const e = await edge({ sites: { 'a.test': { '/': { proxy: { to: [dead, live.url], maxFails: 100 } } } } });
    for (let i = 0; i < 4; i++) {
      const get = await request(`${e.url}/`, { headers: { host: 'a.test' } });
      assert.equal(get.body, 'live GET ');
      const post = await request(`${e.url}/`, { method: 'POST', headers: { host: 'a.test' }, body: 'data' });
      assert.equal(post.body, 'live POST data');
    }
  });

  it('after a reset once the request was sent, retries GET but not POST', async () => {
    const resetting = await rawServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const live = await upstream((req, res) => res.end(`live ${req.method}`));
    const e = await edge({ sites: { 'a.test': { '/': { proxy: { to: [resetting.url, live.url], lb: 'round_robin', maxFails: 100 } } } } });
    const statuses: string[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await request(`${e.url}/`, { headers: { host: 'a.test' } })).body);
    }
    assert.deepEqual(statuses, ['live GET', 'live GET', 'live GET', 'live GET']);
    const posts: number[] = [];
    for (let i = 0; i < 4; i++) posts.push((await request(`${e.url}/`, { method: 'POST', headers: { host: 'a.test' }, body: 'x' })).status);
    assert.ok(posts.includes(502), `a POST the resetting upstream received must not be sent again: ${posts}`);
    assert.ok(posts.includes(200));
  });

  it('takes an upstream out after maxFails failures in a row and reports it to the master', async () => {
    const resetting = await rawServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const live = await upstream((_req, res) => res.end('live'));
    const e = await edge({ sites: { 'a.test': { '/': { proxy: { to: [resetting.url, live.url], maxFails: 2, failTimeout: '1m' } } } } });
    for (let i = 0; i < 10; i++) assert.equal((await request(`${e.url}/`, { headers: { host: 'a.test' } })).body, 'live');
    // Two failures took it out; nothing more went its way.
    assert.equal(resetting.connections(), 2);
    assert.deepEqual(e.notifications, [{ type: 'upstream-health', payload: { route: 'sites["a.test"]["/"]', url: resetting.url, healthy: false } }]);
  });

  it('answers 503 when no upstream is usable', async () => {
    const sick = await upstream((_req, res) => res.writeHead(500).end());
    const e = await edge({ sites: { 'a.test': { '/': { proxy: { to: [sick.url], health: { path: '/healthz', interval: '1m' } } } } } });
    await waitFor(() => e.notifications.length > 0, { what: 'the health check' });
    const res = await request(`${e.url}/`, { headers: { host: 'a.test' } });
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '5');
  });
});

describe('proxy: active health checks', () => {
  it('takes a failing upstream out and brings it back when it passes again', async () => {
    let aHealthy = true;
    const a = await upstream((req, res) => (req.url === '/healthz' ? res.writeHead(aHealthy ? 200 : 503).end() : res.end('a')));
    const b = await upstream((req, res) => (req.url === '/healthz' ? res.end() : res.end('b')));
    const e = await edge({ sites: { 'a.test': { '/': { proxy: { to: [a.url, b.url], health: { path: '/healthz', interval: '100ms', timeout: '1s' } } } } } });
    const bodies = async (n: number) => {
      const out = new Set<string>();
      for (let i = 0; i < n; i++) out.add((await request(`${e.url}/`, { headers: { host: 'a.test' } })).body);
      return out;
    };
    assert.deepEqual(await bodies(4), new Set(['a', 'b']));
    aHealthy = false;
    await waitFor(() => e.notifications.some((n) => n.payload.url === a.url && !n.payload.healthy), { what: 'a reported down' });
    assert.deepEqual(await bodies(6), new Set(['b']));
    aHealthy = true;
    await waitFor(() => e.notifications.some((n) => n.payload.url === a.url && n.payload.healthy), { what: 'a reported up' });
    assert.deepEqual(await bodies(4), new Set(['a', 'b']));
    assert.ok(a.seen.every((r) => r.headers.host === 'a.test' && r.headers['user-agent'] === 'kirin-health-check' || r.url !== '/healthz'));
  });
});

describe('proxy: bodies', () => {
  it('refuses (413) a chunked body that grows past maxBody, and closes', async () => {
    const up = await upstream((_req, res) => res.end('ok'));
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url, maxBody: '1kb' } } } });
    const chunk = 'x'.repeat(600);
    const raw = await rawRequest(e.port, [
      'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n',
      `${(600).toString(16)}\r\n${chunk}\r\n`,
      `${(600).toString(16)}\r\n${chunk}\r\n`,
      `${(600).toString(16)}\r\n${chunk}\r\n0\r\n\r\n`,
    ], { delayMs: 20 });
    assert.equal(raw.status, 413);
    assert.ok(raw.closed);
    assert.equal((await request(`${e.url}/`, { headers: { host: 'a.test' } })).status, 200);
  });

  it('streams a chunked body under the limit', async () => {
    const up = await upstream((_req, res, body) => res.end(`${body.length}`));
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url, maxBody: '1kb' } } } });
    const raw = await rawRequest(e.port, 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n');
    assert.equal(raw.status, 200);
    assert.match(raw.raw, /\r\n\r\n8$/);
    assert.equal(up.seen[0]!.body, 'helloabc');
  });

  it('survives a long POST while the upstream answers early and response headers are rewritten', async () => {
    const up = await upstream(
      (req, res) => {
        res.writeHead(200, { 'x-from-upstream': '1', 'content-type': 'text/plain' });
        res.end('early answer');
        req.resume();
      },
      { readBody: false },
    );
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url, headers: { response: { set: { 'x-rewritten': 'yes' }, remove: ['x-from-upstream'] } } } } } });
    const res = await postSlowly(`${e.url}/upload`, 'a.test', 40, 16 * 1024);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'early answer');
    assert.equal(res.headers['x-rewritten'], 'yes');
    assert.equal(res.headers['x-from-upstream'], undefined);
    assert.equal((await request(`${e.url}/`, { headers: { host: 'a.test' } })).status, 200);
  });
});

describe('proxy: streaming', () => {
  it('frees the upstream connection when the client goes away mid-stream', async () => {
    let upstreamClosed = false;
    const up = await upstream(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n');
        res.on('close', () => (upstreamClosed = true));
      },
      { readBody: false },
    );
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url } } } });
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: e.port, path: '/events', headers: { host: 'a.test' } }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.on('close', resolve);
      req.end();
      setTimeout(() => reject(new Error('no first event')), 5000).unref();
    });
    await waitFor(() => upstreamClosed, { what: 'the upstream response to close' });
  });
});

describe('proxy: services', () => {
  it('waits for a service socket that starts accepting a little later', async () => {
    const dir = tempDir();
    const e = await edge({ stateDir: dir, services: { web: { command: 'web --bind unix:{socket}', readyTimeout: '10s' } }, sites: { 'a.test': { '/': { proxy: { service: 'web' } } } } });
    const socketPath = e.plan.services.web!.socket!;
    mkdirSync(dirname(socketPath), { recursive: true });
    const pending = request(`${e.url}/`, { headers: { host: 'a.test' } });
    setTimeout(() => void upstream((_req, res) => res.end('service up'), { socketPath }), 300);
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(res.body, 'service up');
  });

  it('answers 503 "starting" when the service never accepts within its bound', async () => {
    const dir = tempDir();
    const e = await edge({ stateDir: dir, services: { web: { command: 'web --bind unix:{socket}', readyTimeout: '400ms' } }, sites: { 'a.test': { '/': { proxy: { service: 'web' } } } } });
    const res = await request(`${e.url}/`, { headers: { host: 'a.test' } });
    assert.equal(res.status, 503);
    assert.match(res.body, /service "web" is not accepting connections/);
  });

  it('reaches a {port} service on loopback once the master chose the port', async () => {
    const up = await upstream((_req, res) => res.end('port service'));
    const e = await startEdge({ services: { api: { command: 'api --port {port}' } }, sites: { 'a.test': { '/': { proxy: { service: 'api' } } } } }, {
      prepare: (plan) => (plan.services.api!.port = up.port),
    });
    cleanup.push(() => e.close());
    assert.equal((await request(`${e.url}/`, { headers: { host: 'a.test' } })).body, 'port service');
  });
});

describe('proxy: load balancing', () => {
  it('ip_hash keeps each client (behind a trusted proxy) on one upstream', async () => {
    const a = await upstream((_req, res) => res.end('a'));
    const b = await upstream((_req, res) => res.end('b'));
    const e = await edge({ trustedProxies: ['127.0.0.1/32'], sites: { 'a.test': { '/': { proxy: { to: [a.url, b.url], lb: 'ip_hash' } } } } });
    const seen = new Set<string>();
    for (let client = 1; client <= 20; client++) {
      const ip = `203.0.113.${client}`;
      const first = (await request(`${e.url}/`, { headers: { host: 'a.test', 'x-forwarded-for': ip } })).body;
      seen.add(first);
      for (let i = 0; i < 3; i++) assert.equal((await request(`${e.url}/`, { headers: { host: 'a.test', 'x-forwarded-for': ip } })).body, first);
    }
    assert.equal(seen.size, 2);
  });

  it('least_conn sends new requests away from an upstream busy with slow ones', async () => {
    const held: (() => void)[] = [];
    const slow = await upstream((_req, res) => held.push(() => res.end('slow')));
    const fast = await upstream((_req, res) => res.end('fast'));
    const e = await edge({ sites: { 'a.test': { '/': { proxy: { to: [slow.url, fast.url], lb: 'least_conn' } } } } });
    // Until one request is held by the slow upstream (ties between idle upstreams go in turn).
    const pending: Promise<unknown>[] = [];
    for (let i = 1; i <= 4 && held.length === 0; i++) {
      pending.push(request(`${e.url}/`, { headers: { host: 'a.test' } }));
      await waitFor(() => held.length + fast.seen.length === i, { what: `request ${i} to arrive` });
    }
    assert.equal(held.length, 1);
    const bodies: string[] = [];
    for (let i = 0; i < 3; i++) bodies.push((await request(`${e.url}/`, { headers: { host: 'a.test' } })).body);
    assert.deepEqual(bodies, ['fast', 'fast', 'fast']);
    for (const release of held) release();
    await Promise.all(pending);
  });
});

describe('proxy: HTTP/2 clients', () => {
  it('forwards a request that arrived over HTTP/2 as HTTP/1.1, body and all', async () => {
    const up = await upstream((req, res, body) => {
      res.setHeader('connection', 'close');
      res.setHeader('x-up', 'yes');
      res.end(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, xff: req.headers['x-forwarded-for'], body }));
    });
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url } } } });
    const server = createHttp2Server();
    server.on('request', (req, res) => (e.pipeline.onRequest as (a: unknown, b: unknown) => void)(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const client = connectHttp2(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
    cleanup.push(() => client.close());
    const ask = (method: string, body?: string) =>
      new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
        const stream = client.request({ ':method': method, ':path': '/h2?x=1', ':authority': 'a.test' }, { endStream: body === undefined });
        let text = '';
        let head: Record<string, unknown> = {};
        stream.on('response', (h) => (head = h));
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => (text += c));
        stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: text }));
        stream.on('error', reject);
        if (body !== undefined) stream.end(body);
      });
    const get = await ask('GET');
    assert.equal(get.status, 200);
    assert.equal(get.headers['x-up'], 'yes');
    assert.equal(get.headers.connection, undefined);
    assert.deepEqual(JSON.parse(get.body), { method: 'GET', url: '/h2?x=1', host: 'a.test', xff: '127.0.0.1', body: '' });
    const post = await ask('POST', 'over h2');
    assert.equal(JSON.parse(post.body).body, 'over h2');
  });
});

describe('proxy: with route middleware', () => {
  it("compresses an upstream's uncompressed answer when the route asks for it", async () => {
    const html = '<p>hello</p>'.repeat(500);
    const up = await upstream((_req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(html);
    });
    const e = await edge({ sites: { 'a.test': { '/': { proxy: up.url, compress: true } } } });
    const res = await request(`${e.url}/`, { headers: { host: 'a.test', 'accept-encoding': 'gzip' } });
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(res.buffer).toString(), html);
  });
});
