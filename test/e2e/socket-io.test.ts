/**
 * Socket.IO across workers, end to end: a real Kirin (dist/) with 4 workers
 * serving a Socket.IO chat written as apps write it (socket.io from npm,
 * `new Server(server)` in setup), and socket.io-client over loopback with
 * both transports (polling, then the upgrade to WebSocket) and polling only.
 * With `--sticky`, each session's requests reach its worker and a message
 * from a client on one worker reaches the clients on every other; without
 * it, the polling transport fails as it does behind any plain round robin.
 * The same over TLS (HTTP/1.1 and HTTP/2) and a PROXY protocol listener,
 * where requests are forwarded to the session's worker over its peer socket.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { encodeProxyHeader } from '../../src/relay/proxy-protocol.ts';
import { request, type RequestOptions } from '../support/http.ts';
import { freePort, portOf, ROOT, startKirin, tempDir, waitFor, writeFiles, type KirinProcess, type LogLine } from '../support/kirin.ts';
import { h2Session } from '../support/tls-client.ts';

const CHAT_APP = join(ROOT, 'test/fixtures/apps/socket-io-chat.mjs');
const WORKERS = 4;

interface ChatClient {
  socket: Socket;
  /** The pid of the worker that holds the session (from the app's hello), per connection. */
  pids: number[];
  chat: { text: string; from: number }[];
  rooms: { room: string; text: string }[];
}

type Transports = ('polling' | 'websocket')[];

/** A client that connects (and reconnects) by itself, as in a browser; `ca` for an https:// URL. */
function chatClient(url: string, transports: Transports, ca?: Buffer): ChatClient {
  const socket = io(url, { transports, forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 500, ca: ca?.toString() });
  const client: ChatClient = { socket, pids: [], chat: [], rooms: [] };
  socket.on('hello', (hello: { pid: number }) => client.pids.push(hello.pid));
  socket.on('chat', (message: { text: string; from: number }) => client.chat.push(message));
  socket.on('room', (message: { room: string; text: string }) => client.rooms.push(message));
  return client;
}

const transportOf = (client: ChatClient) => client.socket.io.engine?.transport?.name;
const lastPid = (client: ChatClient) => client.pids.at(-1) ?? 0;

/**
 * Clients of both kinds until every worker holds some (connections spread over
 * the workers as the kernel hands them out), each connected and, when it may,
 * upgraded.
 */
async function clientsOnEveryWorker(url: string, ca?: Buffer): Promise<ChatClient[]> {
  const clients: ChatClient[] = [];
  const kinds: Transports[] = [['polling', 'websocket'], ['polling']];
  const workersOf = (wanted: Transports) => new Set(clients.filter((c) => c.socket.io.opts.transports!.length === wanted.length).map(lastPid));
  try {
    while (clients.length < 120 && kinds.some((kind) => workersOf(kind).size < WORKERS)) {
      const client = chatClient(url, kinds[clients.length % 2]!, ca);
      clients.push(client);
      await waitFor(() => client.pids.length > 0, { what: 'the hello of a new client' });
    }
    for (const kind of kinds) assert.equal(workersOf(kind).size, WORKERS, `clients with transports ${kind} on every worker`);
    await waitFor(() => clients.every((c) => transportOf(c) === (c.socket.io.opts.transports!.length === 2 ? 'websocket' : 'polling')), {
      what: 'every client that may upgrade on WebSocket',
    });
  } catch (error) {
    // Clients left open would reconnect forever and keep the test file from ending.
    closeAll(clients);
    throw error;
  }
  return clients;
}

function closeAll(clients: ChatClient[]): void {
  for (const client of clients) client.socket.close();
}

/** Sends a chat line from `sender` and waits until every client heard it. */
async function chatReachesEveryone(clients: ChatClient[], sender: ChatClient, text: string): Promise<void> {
  sender.socket.emit('chat', text);
  await waitFor(() => clients.every((c) => c.chat.some((m) => m.text === text)), { timeoutMs: 15_000, what: `every client heard "${text}"` });
  const senderPid = lastPid(sender);
  for (const client of clients) assert.equal(client.chat.find((m) => m.text === text)!.from, senderPid, 'the message came from the sender’s worker');
}

/**
 * A chat line from a polling client and one from an upgraded client on another
 * worker reach every client; then every session is still the one it started
 * as: no poll or upgrade went to a worker without it.
 */
async function chatFromBothTransports(clients: ChatClient[], label: string): Promise<{ polling: ChatClient; upgraded: ChatClient }> {
  const polling = clients.find((c) => transportOf(c) === 'polling')!;
  const upgraded = clients.find((c) => transportOf(c) === 'websocket' && lastPid(c) !== lastPid(polling))!;
  await chatReachesEveryone(clients, polling, `${label}from a polling client`);
  await chatReachesEveryone(clients, upgraded, `${label}from an upgraded client`);
  for (const client of clients) assert.equal(client.pids.length, 1, 'one session per client, never re-established');
  return { polling, upgraded };
}

/** An engine.io polling handshake on a new connection: the session id and the pid of the worker that holds it. */
async function handshake(url: string, options: RequestOptions = {}): Promise<{ sid: string; pid: number }> {
  const open = await request(`${url}/socket.io/?EIO=4&transport=polling`, { ...options, agent: false });
  assert.equal(open.status, 200, open.body);
  const sid = (JSON.parse(open.body.slice(1)) as { sid: string }).sid;
  // The Socket.IO connect packet; the answer (on the session's worker) says which worker that is.
  const post = (body: string) => request(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { ...options, method: 'POST', body, agent: false, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
  assert.equal((await post('40')).status, 200);
  const hello = await request(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { ...options, agent: false });
  assert.equal(hello.status, 200, hello.body);
  const pid = Number(/"pid":(\d+)/.exec(hello.body)?.[1]);
  return { sid, pid };
}

/** POSTs an engine.io pong to the session `count` times, each on a new connection; the statuses and bodies. `query` is added to the URL (to find the requests in the log). */
async function pongs(url: string, sid: string, count: number, options: RequestOptions = {}, query = ''): Promise<{ status: number; body: string }[]> {
  const answers: { status: number; body: string }[] = [];
  for (let i = 0; i < count; i++) {
    const res = await request(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}${query}`, { ...options, method: 'POST', body: '3', agent: false, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
    answers.push({ status: res.status, body: res.body });
  }
  return answers;
}

describe('Socket.IO across 4 workers with --sticky', () => {
  let kirin: KirinProcess;
  let dir: string;

  before(async () => {
    dir = tempDir();
    kirin = await startKirin({
      cwd: dir,
      args: ['serve', CHAT_APP, '--sticky', '--workers', String(WORKERS), '--graceful-timeout', '3', '--bind', '127.0.0.1:0', '--access-log', 'off', '--admin', 'off', '--state-dir', join(dir, 'state')],
    });
  });

  after(() => kirin.stop());

  it('both transports (polling then upgrade) and polling only: a message from a client on one worker reaches the clients on every worker; rooms and fetchSockets span the workers', async () => {
    const clients = await clientsOnEveryWorker(kirin.url);
    try {
      const { polling, upgraded } = await chatFromBothTransports(clients, '');

      // A room whose members are on different workers.
      const members = [clients.find((c) => lastPid(c) !== lastPid(polling) && transportOf(c) === 'polling')!, upgraded];
      for (const member of members) await member.socket.emitWithAck('join', 'lobby');
      polling.socket.emit('to-room', 'lobby', 'to the lobby');
      await waitFor(() => members.every((m) => m.rooms.some((r) => r.text === 'to the lobby')), { what: 'the room message on both workers' });
      assert.ok(!polling.rooms.some((r) => r.text === 'to the lobby'), 'a client outside the room does not hear it');
      // Binary payloads cross workers as bytes.
      const blobs = new Map<ChatClient, Buffer>();
      for (const client of clients) client.socket.once('blob', (message: { bytes: Buffer }) => blobs.set(client, message.bytes));
      upgraded.socket.emit('blob', Buffer.from([0, 1, 2, 255]));
      await waitFor(() => blobs.size === clients.length, { what: 'the binary message on every client' });
      for (const bytes of blobs.values()) assert.deepEqual([...bytes], [0, 1, 2, 255]);
      // fetchSockets: the sockets of every worker.
      assert.equal(await upgraded.socket.emitWithAck('count'), clients.length);
    } finally {
      closeAll(clients);
    }
  });

  it('every request of a session reaches its worker, whichever worker accepts the connection', async () => {
    const { sid, pid } = await handshake(kirin.url);
    assert.ok(sid.startsWith(`${pid.toString(36)}.`), `the session id ${sid} names its worker ${pid}`);
    const answers = await pongs(kirin.url, sid, 24);
    assert.deepEqual(answers, Array.from({ length: 24 }, () => ({ status: 200, body: 'ok' })));
  });

  it("a kept-alive connection that another worker accepted: a request of another worker's session gets 307 to itself on a new connection, which reaches the session", async () => {
    const { sid, pid } = await handshake(kirin.url);
    const target = `${kirin.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    let foreign: Agent | null = null;
    // A connection that a worker other than the session's accepted (its first request has no sid, so it stays there).
    for (let i = 0; i < 60 && foreign === null; i++) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const res = await request(`${kirin.url}/`, { agent });
      if (res.body !== `pid ${pid}`) foreign = agent;
      else agent.destroy();
    }
    assert.ok(foreign, 'a connection on another worker');
    try {
      const redirected = await request(target, { method: 'POST', body: '3', agent: foreign, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
      assert.equal(redirected.status, 307);
      assert.equal(redirected.headers.location, `/socket.io/?EIO=4&transport=polling&sid=${sid}`);
      assert.equal(redirected.headers.connection, 'close');
      const followed = await request(`${kirin.url}${redirected.headers.location}`, { method: 'POST', body: '3', agent: false, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
      assert.deepEqual([followed.status, followed.body], [200, 'ok']);
    } finally {
      foreign.destroy();
    }
  });

  it('reload: clients of the old generation reconnect to the new one by the graceful deadline and chat across its workers', async () => {
    const clients = await clientsOnEveryWorker(kirin.url);
    try {
      const oldPids = new Set(clients.map(lastPid));
      kirin.signal('SIGHUP');
      await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('reloaded: generation 2'), 20_000, 'the reload');
      // WebSocket sessions get 1001 before the 3 s deadline; polling sessions stay on their draining worker until it exits.
      await waitFor(() => clients.every((c) => c.socket.connected && !oldPids.has(lastPid(c))), { timeoutMs: 20_000, what: 'every client on a new worker' });
      // However the reconnections spread, new clients on every new worker hear the moved ones, and the other way round.
      const fresh = await clientsOnEveryWorker(kirin.url);
      clients.push(...fresh);
      await chatReachesEveryone(clients, clients[1]!, 'after the reload, from a client that moved');
      await chatReachesEveryone(clients, fresh[0]!, 'after the reload, from a new client');
      assert.ok(!kirin.output().includes('uncaught'), 'no worker crashed');
    } finally {
      closeAll(clients);
    }
  });
});

describe('Socket.IO across 4 workers without --sticky', () => {
  it("fails as behind any round robin: the session's polling requests reach workers that do not know it (400 Session ID unknown)", async () => {
    const dir = tempDir();
    const kirin = await startKirin({
      cwd: dir,
      args: ['serve', CHAT_APP, '--workers', String(WORKERS), '--bind', '127.0.0.1:0', '--access-log', 'off', '--admin', 'off', '--state-dir', join(dir, 'state')],
    });
    try {
      const open = await request(`${kirin.url}/socket.io/?EIO=4&transport=polling`, { agent: false });
      const sid = (JSON.parse(open.body.slice(1)) as { sid: string }).sid;
      const answers = await pongs(kirin.url, sid, 24);
      const unknown = answers.filter((a) => a.status === 400);
      assert.ok(unknown.length > 0, `some of 24 requests reach a worker without the session: ${JSON.stringify(answers)}`);
      assert.match(unknown[0]!.body, /Session ID unknown/);
    } finally {
      await kirin.stop();
    }
  });
});

describe('Socket.IO across 4 workers with sticky over TLS (HTTP/1.1 and HTTP/2) and a PROXY protocol listener', () => {
  let kirin: KirinProcess;
  let dir: string;
  let ca: Buffer;
  let url: string;
  let relayedPort: number;
  const POLL_HEADERS = { 'content-type': 'text/plain;charset=UTF-8' };

  before(async () => {
    dir = tempDir();
    // Ports of their own: listeners are told apart by address, and two '127.0.0.1:0' would be one.
    const [tlsPort, relayPort] = [await freePort(), await freePort()];
    writeFiles(dir, {
      'kirin.config.json': JSON.stringify({
        sticky: true,
        workers: WORKERS,
        gracefulTimeout: '3s',
        admin: false,
        stateDir: './state',
        // The PROXY listener's relay (loopback); the clients it relays are not trusted.
        trustedProxies: ['127.0.0.1'],
        listen: { https: [`127.0.0.1:${tlsPort}`, { address: `127.0.0.1:${relayPort}`, proxyProtocol: true }] },
        sites: { localhost: { hsts: false, '/': { app: CHAT_APP } } },
      }),
    });
    kirin = await startKirin({ cwd: dir, args: ['serve', '--config', 'kirin.config.json'] });
    ca = readFileSync(join(dir, 'state', 'tls', 'local-ca', 'root.crt'));
    url = `https://localhost:${tlsPort}`;
    relayedPort = relayPort;
  });

  after(() => kirin.stop());

  /** A connection as a relay opens it on the PROXY listener: the header naming `client`, then TLS. */
  const relayed = (client: string) => () => {
    const raw = netConnect(relayedPort, '127.0.0.1');
    raw.write(encodeProxyHeader({ address: client, port: 40000 }, { address: '127.0.0.1', port: relayedPort }));
    return tlsConnect({ socket: raw, servername: 'localhost', ca, ALPNProtocols: ['http/1.1'] });
  };

  /** The engine.io pong on a new HTTP/2 connection. */
  const h2Pong = (sid: string, query: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const session = h2Session(portOf(url), 'localhost', ca);
      const stream = session.request({ ':method': 'POST', ':path': `/socket.io/?EIO=4&transport=polling&sid=${sid}${query}`, ...POLL_HEADERS });
      let status = 0;
      let body = '';
      stream.setEncoding('utf8');
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: string) => (body += chunk));
      stream.on('end', () => {
        session.close();
        resolve({ status, body });
      });
      stream.on('error', reject);
      stream.end('3');
    });

  const accessLines = (marker: string) => kirin.lines.filter((l): l is LogLine & { path: string } => l.type === 'access' && typeof l.path === 'string' && l.path.includes(marker));

  /**
   * Every worker has written the access lines of what it answered before now:
   * a request answered by each worker, and its line (each worker writes its
   * lines in order).
   */
  async function accessLogsWritten(): Promise<void> {
    const answered = new Map<string, string>();
    for (let i = 0; answered.size < WORKERS && i < 200; i++) {
      const marker = `barrier-${Date.now()}-${i}`;
      const res = await request(`${url}/?${marker}`, { ca, agent: false });
      if (!answered.has(res.body)) answered.set(res.body, marker);
    }
    assert.equal(answered.size, WORKERS, 'a request answered by every worker');
    await waitFor(() => [...answered.values()].every((marker) => accessLines(marker).length === 1), { what: 'the access lines of every worker' });
  }

  it('HTTP/1.1 over TLS, both transports (polling then upgrade) and polling only: every client keeps its one session, and a message from a client on one worker reaches the clients on every worker', async () => {
    const clients = await clientsOnEveryWorker(url, ca);
    try {
      const { polling } = await chatFromBothTransports(clients, 'over TLS, ');
      assert.equal(await polling.socket.emitWithAck('count'), clients.length);
    } finally {
      closeAll(clients);
    }
  });

  it("every polling request of a session reaches its worker over TLS, HTTP/2 and the PROXY listener; that worker logs it, once, with the client the listener saw", async () => {
    const { sid, pid } = await handshake(url, { ca });
    const mark = `&m=${Date.now()}`;
    const ok = (count: number) => Array.from({ length: count }, () => ({ status: 200, body: 'ok' }));
    assert.deepEqual(await pongs(url, sid, 16, { ca }, `${mark}-h1`), ok(16));
    const h2 = [];
    for (let i = 0; i < 16; i++) h2.push(await h2Pong(sid, `${mark}-h2`));
    assert.deepEqual(h2, ok(16));
    assert.deepEqual(await pongs(`https://localhost:${relayedPort}`, sid, 16, { ca, createConnection: relayed('203.0.113.9') }, `${mark}-proxy`), ok(16));

    await accessLogsWritten();
    for (const protocol of ['h1', 'h2', 'proxy']) {
      const lines = accessLines(`${mark}-${protocol}`);
      assert.equal(lines.length, 16, `one access line per ${protocol} request, not one per worker it crossed`);
      for (const line of lines) assert.equal(line.status, 200);
      const clients = new Set(lines.map((l) => l.client));
      assert.deepEqual([...clients], [protocol === 'proxy' ? '203.0.113.9' : '127.0.0.1'], `the ${protocol} client as its listener saw it`);
    }
    // One private folder of peer sockets, one socket per worker (the session's among them).
    const peers = join(dir, 'state', 'run', 'workers');
    assert.equal(statSync(peers).mode & 0o777, 0o700);
    assert.ok(existsSync(join(peers, `${pid}.sock`)), "the session's worker has its peer socket");
  });

  it("a session whose worker is gone: its requests are served where they land (400 Session ID unknown, the client starts over), never 502", async () => {
    const { sid, pid } = await handshake(url, { ca });
    assert.deepEqual(await pongs(url, sid, 8, { ca }), Array.from({ length: 8 }, () => ({ status: 200, body: 'ok' })), 'the session reaches its worker');
    process.kill(pid, 'SIGKILL');
    await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.includes(`(pid ${pid}) died`), 10_000, 'the master noticing the worker died');
    assert.ok(!existsSync(join(dir, 'state', 'run', 'workers', `${pid}.sock`)), "the master removed the dead worker's peer socket");
    const unknown = (answers: { status: number; body: string }[]) => {
      for (const answer of answers) {
        assert.equal(answer.status, 400, JSON.stringify(answer));
        assert.match(answer.body, /Session ID unknown/);
      }
    };
    unknown(await pongs(url, sid, 8, { ca }));
    unknown([await h2Pong(sid, ''), await h2Pong(sid, '')]);

    // A socket nobody listens on (a worker killed before the master could remove it): refused, then served here too.
    const stale = process.pid;
    writeFileSync(join(dir, 'state', 'run', 'workers', `${stale}.sock`), '');
    unknown(await pongs(url, `${stale.toString(36)}.AAAAAAAAAAAAAAAAAAAA`, 8, { ca }));
    assert.ok(!kirin.output().includes('"status":502'), 'no request was answered 502');
  });
});
