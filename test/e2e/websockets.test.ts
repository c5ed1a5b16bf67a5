/**
 * WebSockets in apps, end to end: a real Kirin (dist/) serving real apps built
 * with packages from npm (Express + ws, Hono, the Bun-style shape), and real
 * `ws` clients over loopback. Kirin's edge applies before the app sees an
 * upgrade; the limits close with clean codes and the worker stays up; a
 * reload sends 1001 and clients reconnect to the new generation.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { describeLoad, startLoad } from '../../bench/lib/load.ts';
import { request } from '../support/http.ts';
import { ROOT, runKirin, startKirin, tempDir, waitFor, writeFiles, type KirinProcess } from '../support/kirin.ts';

const app = (name: string) => join(ROOT, 'test/fixtures/apps', name);

interface Client {
  ws: WebSocket;
  messages: string[];
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens a WebSocket and resolves once it is open (or rejects with the server's refusal). */
function connect(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const messages: string[] = [];
    ws.on('message', (data) => messages.push(String(data)));
    const closed = new Promise<{ code: number; reason: string }>((done) => ws.on('close', (code, reason) => done({ code, reason: String(reason) })));
    ws.once('open', () => resolve({ ws, messages, closed }));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

function nextMessage(client: Client, match: (m: string) => boolean = () => true): Promise<string> {
  return waitFor(() => client.messages.find(match), { timeoutMs: 10_000, what: 'a WebSocket message' });
}

describe('WebSockets in apps', () => {
  let kirin: KirinProcess;
  let dir: string;
  let ws: string;

  before(async () => {
    dir = tempDir();
    writeFiles(dir, {
      'kirin.config.json': JSON.stringify({
        admin: false,
        sites: {
          'localhost, 127.0.0.1': {
            '/': { app: app('express-ws.mjs') },
            '/limited': { app: app('express-ws.mjs'), websocket: { maxMessage: '1kb', maxConnections: 3, idleTimeout: '2s' } },
            '/private': { app: app('express-ws.mjs'), allow: ['10.0.0.0/8'] },
            '/partners': { app: app('express-ws.mjs'), websocket: { origins: ['https://partner.example'] } },
            '/hono': { app: app('hono-ws.ts'), stripPrefix: true },
            '/bun': { app: app('bun-style-ws.ts'), stripPrefix: true },
            '/plain': { app: app('node-listener.mjs') },
          },
        },
      }),
    });
    kirin = await startKirin({ cwd: dir, args: ['serve', '--workers', '1', '--bind', '127.0.0.1:0', '--state-dir', join(dir, 'state')] });
    ws = kirin.url.replace('http:', 'ws:');
  });

  after(() => kirin.stop());

  it('Express + ws (setup(server)): the ws server on the handed-over server echoes, and the Express routes still answer', async () => {
    const client = await connect(`${ws}/room?x=1`);
    assert.match(await nextMessage(client), /^hello \d+ \/room\?x=1$/);
    client.ws.send('ping 1');
    await nextMessage(client, (m) => m === 'ping 1');
    client.ws.send(Buffer.from([1, 2, 3]));
    await waitFor(() => client.messages.length >= 3, { what: 'the binary echo' });
    client.ws.close(1000);
    assert.equal((await client.closed).code, 1000);
    const res = await request(`${kirin.url}/`);
    assert.match(res.body, /^express \d+$/);
    // The upgrade has its access log line, status 101.
    await kirin.waitForLine((l) => l.type === 'access' && l.path === '/room?x=1' && l.status === 101, 5000, 'the access log line of the upgrade');
  });

  it('Hono with its WebSocket helper (kirin/hono): query, echo of text and binary', async () => {
    const client = await connect(`${ws}/hono/ws?name=ada`);
    assert.match(await nextMessage(client), /^hello ada from \d+$/);
    client.ws.send('hi');
    await nextMessage(client, (m) => m === 'echo hi');
    client.ws.send(new Uint8Array(5));
    await nextMessage(client, (m) => m === 'binary 5');
    client.ws.close();
    assert.match((await request(`${kirin.url}/hono/`)).body, /^hono \d+$/);
  });

  it('the Bun-style shape: upgrade with data and headers, topics, a Response instead of an upgrade, a throwing handler', async () => {
    await assert.rejects(connect(`${ws}/bun/chat`), /HTTP 401/);
    let headers: Record<string, string | string[] | undefined> = {};
    const alice = await connect(`${ws}/bun/chat?name=alice`);
    const bob = await new Promise<Client>((resolve, reject) => {
      const socket = new WebSocket(`${ws}/bun/chat?name=bob`);
      socket.once('upgrade', (res) => (headers = res.headers));
      const messages: string[] = [];
      socket.on('message', (d) => messages.push(String(d)));
      const closed = new Promise<{ code: number; reason: string }>((done) => socket.on('close', (code, reason) => done({ code, reason: String(reason) })));
      socket.once('open', () => resolve({ ws: socket, messages, closed }));
      socket.once('error', reject);
    });
    assert.equal(headers['x-chat'], 'kirin');
    assert.match(await nextMessage(bob), /^welcome bob \d+$/);
    alice.ws.send('hello room');
    await nextMessage(bob, (m) => m === 'alice: hello room');
    alice.ws.send('throw');
    await kirin.waitForLine((l) => l.msg === 'the app threw an error in its WebSocket code', 5000, 'the logged handler error');
    alice.ws.send('still here');
    await nextMessage(bob, (m) => m === 'alice: still here');
    alice.ws.close();
    bob.ws.close();
  });

  it("Kirin's edge comes first: unknown host 421, a route's allow list 403, a plain listener 501", async () => {
    await assert.rejects(connect(`${ws}/`, { headers: { host: 'evil.example' } }), /HTTP 421/);
    await assert.rejects(connect(`${ws}/private/x`), /HTTP 403/);
    await assert.rejects(connect(`${ws}/plain`), /HTTP 501/);
  });

  it('origins: same origin and no Origin pass by default, another site gets 403; a listed origin passes', async () => {
    const host = new URL(kirin.url).host;
    (await connect(`${ws}/`, { origin: `http://${host}` })).ws.close();
    (await connect(`${ws}/`)).ws.close();
    await assert.rejects(connect(`${ws}/`, { origin: 'https://evil.example' }), /HTTP 403/);
    (await connect(`${ws}/partners`, { origin: 'https://partner.example' })).ws.close();
    await assert.rejects(connect(`${ws}/partners`, { origin: `http://${host}` }), /HTTP 403/);
  });

  it('a message over maxMessage is closed with 1009 and never reaches the app; the worker stays up', async () => {
    const client = await connect(`${ws}/limited/big`);
    await nextMessage(client);
    const before = await request(`${kirin.url}/`);
    client.ws.send('x'.repeat(2048));
    const closed = await client.closed;
    assert.equal(closed.code, 1009);
    assert.ok(!client.messages.includes('x'.repeat(2048)), 'the oversized message was not echoed');
    // Fragmented: three frames of 400 bytes make one message of 1200.
    const fragmented = await connect(`${ws}/limited/fragments`);
    await nextMessage(fragmented);
    fragmented.ws.send('a'.repeat(400), { fin: false });
    fragmented.ws.send('a'.repeat(400), { fin: false });
    fragmented.ws.send('a'.repeat(400), { fin: true });
    assert.equal((await fragmented.closed).code, 1009);
    assert.equal((await request(`${kirin.url}/`)).body, before.body, 'the same worker answers');
  });

  it('a flood past maxConnections: the extra sockets get 1013, the open ones keep working, the worker stays up', async () => {
    const open = await Promise.all([1, 2, 3].map((i) => connect(`${ws}/limited/${i}`)));
    const extra = await Promise.all([4, 5, 6, 7].map((i) => connect(`${ws}/limited/${i}`).then((c) => c.closed)));
    for (const closed of extra) assert.deepEqual(closed, { code: 1013, reason: 'too many WebSockets on this server' });
    open[0]!.ws.send('still open');
    await nextMessage(open[0]!, (m) => m === 'still open');
    for (const c of open) c.ws.close();
    await Promise.all(open.map((c) => c.closed));
    // Freed places are free again.
    const again = await connect(`${ws}/limited/again`);
    await nextMessage(again);
    again.ws.close();
  });

  it('an idle client that does not answer pings is closed with 1001; one that answers stays open', async () => {
    const silent = await connect(`${ws}/limited/silent`, { autoPong: false });
    const alive = await connect(`${ws}/limited/alive`);
    let pinged = false;
    alive.ws.on('ping', () => (pinged = true));
    const closed = await silent.closed;
    assert.deepEqual(closed, { code: 1001, reason: 'idle timeout' });
    // The live client connected a moment later: its ping may come at the next sweep.
    await waitFor(() => pinged || null, { what: 'Kirin pinging the live client', timeoutMs: 5000 });
    assert.equal(alive.ws.readyState, WebSocket.OPEN);
    alive.ws.close();
  });

  it('kirin status shows the open WebSockets of each worker', async () => {
    const clients = await Promise.all([1, 2].map((i) => connect(`${ws}/status/${i}`)));
    const status = await waitFor(
      async () => {
        const run = await runKirin(['status', '--json', '--state-dir', join(dir, 'state')], dir);
        const parsed = JSON.parse(run.stdout) as { workers: { websockets: number }[] };
        return parsed.workers[0]!.websockets === 2 ? parsed : null;
      },
      { timeoutMs: 10_000, what: 'status with 2 open WebSockets' },
    );
    assert.equal(status.workers.length, 1);
    for (const c of clients) c.ws.close();
  });
});

describe('WebSockets across a reload', () => {
  it('500 open WebSockets under message load get 1001 by the graceful deadline and reconnect to the new generation; no failed HTTP request', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'kirin.config.json': JSON.stringify({ admin: false, gracefulTimeout: '4s', sites: { '*': { '/': { app: app('express-ws.mjs') } } } }) });
    const kirin = await startKirin({ cwd: dir, args: ['serve', '--workers', '2', '--bind', '127.0.0.1:0', '--access-log', 'off', '--state-dir', join(dir, 'state')] });
    const url = kirin.url.replace('http:', 'ws:');
    const load = startLoad({ url: `${kirin.url}/`, concurrency: 4 });
    const COUNT = 500;
    const pidOf = (hello: string) => hello.split(' ')[1]!;
    try {
      const clients: Client[] = [];
      for (let i = 0; i < COUNT; i += 50) clients.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => connect(`${url}/c${i + j}`)))));
      const oldPids = new Set(await Promise.all(clients.map((c) => nextMessage(c).then(pidOf))));
      // Message load: every client sends, and expects its echo, until it is closed.
      const sender = setInterval(() => {
        for (const c of clients) if (c.ws.readyState === WebSocket.OPEN) c.ws.send('tick');
      }, 100);
      await waitFor(() => clients.every((c) => c.messages.includes('tick')), { timeoutMs: 20_000, what: 'every client echoed' });
      const hup = Date.now();
      kirin.signal('SIGHUP');
      const closes = await Promise.all(clients.map((c) => c.closed.then((closed) => ({ ...closed, afterMs: Date.now() - hup }))));
      clearInterval(sender);
      for (const closed of closes) assert.equal(closed.code, 1001, `close ${JSON.stringify(closed)}`);
      // Reconnected: the new generation's workers answer.
      const again = await Promise.all(clients.slice(0, 50).map((_, i) => connect(`${url}/again${i}`)));
      const newPids = await Promise.all(again.map((c) => nextMessage(c).then(pidOf)));
      for (const pid of newPids) assert.ok(!oldPids.has(pid), `reconnected to an old worker ${pid}`);
      for (const c of again) c.ws.close();
      const result = await load.stop();
      assert.equal(result.failures, 0, `failed HTTP requests during the reload: ${describeLoad(result)}`);
      // The draining workers left by the graceful deadline (4 s): nothing lingered, nothing crashed.
      await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('reloaded: generation 2'), 20_000, 'the reload');
      assert.ok(!kirin.output().includes('uncaught'), 'no worker crashed');
    } finally {
      await load.stop();
      await kirin.stop();
    }
  });
});
