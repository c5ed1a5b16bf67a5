/**
 * The reverse proxy end to end: a real Kirin (dist/) in front of real upstream
 * servers on loopback. WebSocket and SSE through the proxy, health checks
 * taking a dead upstream out and back in, passive failures, retries, error
 * pages, hop-by-hop headers, X-Forwarded-For from untrusted and trusted peers.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { request } from '../support/http.ts';
import { startKirin, tempDir, waitFor, type KirinProcess } from '../support/kirin.ts';
import { postSlowly } from '../handlers/proxy/harness.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
const rawSockets = new Set<Socket>();

async function listen(server: Server | import('node:net').Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as { port: number }).port;
}

async function upstream(handler: Handler): Promise<{ server: Server; port: number; url: string }> {
  const server = createServer(handler);
  servers.push(server);
  const port = await listen(server);
  return { server, port, url: `http://127.0.0.1:${port}` };
}

async function rawUpstream(onConnection: (socket: Socket) => void): Promise<string> {
  const server = createNetServer((socket) => {
    rawSockets.add(socket);
    socket.on('error', () => {});
    onConnection(socket);
  });
  servers.push(server as unknown as Server);
  return `http://127.0.0.1:${await listen(server)}`;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('reverse proxy (e2e)', () => {
  let kirin: KirinProcess;
  let v4: string;
  let v6: string;
  let wsServer: WebSocketServer;
  let sseRelease: () => void = () => {};
  let healthB: { server: Server; port: number; url: string };
  const healthBHandler: Handler = (req, res) => res.end(req.url === '/healthz' ? 'ok' : 'b');
  let deadUrl: string;

  before(async () => {
    // WebSocket echo upstream (the ws package), refusing /forbidden with 403.
    const wsHttp = await upstream((_req, res) => res.end('not a websocket'));
    wsServer = new WebSocketServer({ noServer: true });
    wsHttp.server.on('upgrade', (req, socket, head) => {
      if (req.url === '/forbidden') {
        socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno');
        return;
      }
      wsServer.handleUpgrade(req, socket, head, (ws) => {
        ws.send(`hello ${req.headers.host} from ${req.headers['x-forwarded-for']}`);
        ws.on('message', (data) => ws.send(`echo ${String(data)}`));
      });
    });
    // SSE: the second event only after the test saw the first one arrive.
    const sse = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: first\n\n');
      sseRelease = () => {
        res.write('data: second\n\n');
        res.end();
      };
    });
    const healthA = await upstream((req, res) => res.end(req.url === '/healthz' ? 'ok' : 'a'));
    healthB = await upstream(healthBHandler);
    const resetting = await rawUpstream((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const live = await upstream((req, res) => res.end(`live ${req.method}`));
    const silent = await rawUpstream(() => {});
    const rogue101 = await rawUpstream((socket) => socket.once('data', () => socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')));
    const echo = await upstream((req, res) => {
      res.setHeader('connection', 'x-upstream-private');
      res.setHeader('x-upstream-private', 'secret');
      res.setHeader('keep-alive', 'timeout=5');
      res.setHeader('x-upstream-public', 'yes');
      res.end(JSON.stringify({ url: req.url, headers: req.headers }));
    });
    const early = await upstream((req, res) => {
      res.writeHead(200, { 'x-from-upstream': '1' });
      res.end('early');
      req.resume();
    });
    const probe = createNetServer();
    await listen(probe);
    deadUrl = `http://127.0.0.1:${(probe.address() as { port: number }).port}`;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const dir = tempDir();
    const site = (route: object) => ({ tls: 'off', '/': route });
    writeFileSync(
      join(dir, 'kirin.config.json'),
      JSON.stringify({
        workers: 1,
        listen: { http: ['127.0.0.1:0', '[::1]:0'] },
        stateDir: join(dir, 'state'),
        trustedProxies: ['127.0.0.1/32'],
        sites: {
          'ws.test': site({ proxy: wsHttp.url }),
          'sse.test': site({ proxy: sse.url }),
          'health.test': site({ proxy: { to: [healthA.url, healthB.url], lb: 'round_robin', health: { path: '/healthz', interval: '200ms', timeout: '500ms' } } }),
          'passive.test': site({ proxy: { to: [resetting, live.url], maxFails: 1, failTimeout: '1m' } }),
          'retry.test': site({ proxy: { to: [deadUrl, live.url], maxFails: 100 } }),
          'down.test': site({ proxy: deadUrl }),
          'slow.test': site({ proxy: { to: silent, responseTimeout: '500ms' } }),
          'rogue.test': site({ proxy: { to: rogue101, retries: 0 } }),
          'echo.test': site({ proxy: echo.url }),
          'early.test': site({ proxy: early.url, headers: { response: { set: { 'x-rewritten': 'yes' }, remove: ['x-from-upstream'] } } }),
        },
      }),
    );
    kirin = await startKirin({ cwd: dir, args: ['serve'] });
    v4 = kirin.urls.find((u) => u.includes('127.0.0.1'))!;
    v6 = kirin.urls.find((u) => u.includes('[::1]'))!;
  });

  after(async () => {
    await kirin?.stop();
    wsServer?.close();
    for (const socket of rawSockets) socket.destroy();
    await Promise.all(servers.map((s) => closeServer(s)));
  });

  const get = (host: string, path = '/', headers: Record<string, string> = {}, base = v4) => request(`${base}${path}`, { headers: { host, ...headers } });

  it('proxies a WebSocket both ways, with the Host and X-Forwarded-For of the client', async () => {
    const ws = new WebSocket(`${v4.replace('http', 'ws')}/chat`, { headers: { host: 'ws.test' } });
    const messages: string[] = [];
    const got = (n: number) => waitFor(() => messages.length >= n, { what: `${n} WebSocket messages` });
    ws.on('message', (data) => messages.push(String(data)));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    await got(1);
    assert.equal(messages[0], 'hello ws.test from 127.0.0.1');
    ws.send('ping');
    ws.send('pong');
    await got(3);
    assert.deepEqual(messages.slice(1), ['echo ping', 'echo pong']);
    ws.close();
  });

  it("passes an upstream's refusal of a WebSocket upgrade on to the client", async () => {
    const ws = new WebSocket(`${v4.replace('http', 'ws')}/forbidden`, { headers: { host: 'ws.test' } });
    const status = await new Promise<number>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('the upgrade should have been refused')));
      ws.once('error', () => {});
    });
    assert.equal(status, 403);
  });

  it('streams server-sent events chunk by chunk, before the upstream has finished', async () => {
    const events = await new Promise<string[]>((resolve, reject) => {
      const received: string[] = [];
      const req = httpRequest(`${v4}/events`, { headers: { host: 'sse.test' } }, (res) => {
        assert.equal(res.headers['content-type'], 'text/event-stream');
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          received.push(chunk);
          // The upstream sends its second event only once the first has reached the client: buffering would hang here.
          if (received.length === 1) sseRelease();
        });
        res.on('end', () => resolve(received));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(events[0], 'data: first\n\n');
    assert.equal(events.join(''), 'data: first\n\ndata: second\n\n');
  });

  it('takes a dead upstream out after a failed health check and back in when it answers again', async () => {
    const bodies = async (n: number) => {
      const out = new Set<string>();
      for (let i = 0; i < n; i++) out.add((await get('health.test')).body);
      return out;
    };
    assert.deepEqual(await bodies(4), new Set(['a', 'b']));
    const port = healthB.port;
    await closeServer(healthB.server);
    await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.includes(`upstream http://127.0.0.1:${port} failed its health check`), 10_000, 'the health check to fail');
    assert.deepEqual(await bodies(6), new Set(['a']));
    const revived = createServer(healthBHandler);
    servers.push(revived);
    await listen(revived, port);
    await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.includes(`upstream http://127.0.0.1:${port} passed its health check`), 10_000, 'the health check to pass');
    assert.deepEqual(await bodies(4), new Set(['a', 'b']));
  });

  it('takes an upstream out after passive failures and keeps answering from the others', async () => {
    for (let i = 0; i < 6; i++) assert.equal((await get('passive.test')).body, 'live GET');
    await kirin.waitForLine((l) => typeof l.msg === 'string' && /failed 1 times in a row; out for 60 s/.test(l.msg), 5_000, 'the passive failure');
  });

  it('retries on another upstream when connecting fails', async () => {
    for (let i = 0; i < 4; i++) {
      assert.equal((await get('retry.test')).body, 'live GET');
      assert.equal((await request(`${v4}/`, { method: 'POST', headers: { host: 'retry.test' }, body: 'x' })).body, 'live POST');
    }
  });

  it('answers a clear 502 when the upstream is down and 504 when it does not answer in time', async () => {
    const down = await get('down.test');
    assert.equal(down.status, 502);
    assert.equal(down.body, '502 Bad Gateway: the upstream server could not be reached\n');
    const slow = await get('slow.test');
    assert.equal(slow.status, 504);
    assert.equal(slow.body, '504 Gateway Timeout: the upstream server did not answer in time\n');
  });

  it('refuses a 101 from an upstream when the client did not ask to upgrade', async () => {
    const res = await get('rogue.test');
    assert.equal(res.status, 502);
    assert.match(res.body, /switched protocols without being asked/);
  });

  it("removes hop-by-hop headers both ways, including the ones named in Connection, never Kirin's X-Forwarded-*", async () => {
    const res = await get('echo.test', '/x', { connection: 'keep-alive, x-client-private, X-Forwarded-For', 'x-client-private': 'secret', 'proxy-authorization': 'Basic eDp5', 'x-client-public': 'yes' });
    const seen = JSON.parse(res.body) as { headers: Record<string, string> };
    assert.equal(seen.headers['x-client-private'], undefined);
    assert.equal(seen.headers['proxy-authorization'], undefined);
    assert.equal(seen.headers['x-client-public'], 'yes');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-host'], 'echo.test');
    assert.equal(res.headers['x-upstream-private'], undefined);
    assert.equal(res.headers['x-upstream-public'], 'yes');
  });

  it('replaces X-Forwarded-For from an untrusted peer, and keeps the rightmost untrusted address behind a trusted one', async () => {
    // ::1 is not in trustedProxies: its X-Forwarded-For is ignored.
    const untrusted = JSON.parse((await get('echo.test', '/', { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https' }, v6)).body) as { headers: Record<string, string> };
    assert.equal(untrusted.headers['x-forwarded-for'], '::1');
    assert.equal(untrusted.headers['x-forwarded-proto'], 'http');
    // 127.0.0.1 is trusted: the client is the rightmost address that is not a trusted proxy.
    const trusted = JSON.parse((await get('echo.test', '/', { 'x-forwarded-for': '198.51.100.7, 203.0.113.9, 127.0.0.1' })).body) as { headers: Record<string, string> };
    assert.equal(trusted.headers['x-forwarded-for'], '203.0.113.9');
  });

  it('survives a long POST while the answer comes early and its headers are rewritten', async () => {
    const res = await postSlowly(`${v4}/upload`, 'early.test');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'early');
    assert.equal(res.headers['x-rewritten'], 'yes');
    assert.equal(res.headers['x-from-upstream'], undefined);
    assert.equal((await get('echo.test')).status, 200);
    assert.doesNotMatch(kirin.output(), /ERR_HTTP_HEADERS_SENT|died \(/);
  });
});
