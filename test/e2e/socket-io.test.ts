/**
 * Socket.IO across workers, end to end: a real Kirin (dist/) with 4 workers
 * serving a Socket.IO chat written as apps write it (socket.io from npm,
 * `new Server(server)` in setup), and socket.io-client over loopback with
 * both transports (polling, then the upgrade to WebSocket) and polling only.
 * With `--sticky`, each session's requests reach its worker and a message
 * from a client on one worker reaches the clients on every other; without
 * it, the polling transport fails as it does behind any plain round robin.
 */
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { request } from '../support/http.ts';
import { ROOT, startKirin, tempDir, waitFor, type KirinProcess } from '../support/kirin.ts';

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

/** A client that connects (and reconnects) by itself, as in a browser. */
function chatClient(url: string, transports: Transports): ChatClient {
  const socket = io(url, { transports, forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 500 });
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
async function clientsOnEveryWorker(url: string): Promise<ChatClient[]> {
  const clients: ChatClient[] = [];
  const kinds: Transports[] = [['polling', 'websocket'], ['polling']];
  const workersOf = (wanted: Transports) => new Set(clients.filter((c) => c.socket.io.opts.transports!.length === wanted.length).map(lastPid));
  while (clients.length < 120 && kinds.some((kind) => workersOf(kind).size < WORKERS)) {
    const client = chatClient(url, kinds[clients.length % 2]!);
    clients.push(client);
    await waitFor(() => client.pids.length > 0, { what: 'the hello of a new client' });
  }
  for (const kind of kinds) assert.equal(workersOf(kind).size, WORKERS, `clients with transports ${kind} on every worker`);
  await waitFor(() => clients.every((c) => transportOf(c) === (c.socket.io.opts.transports!.length === 2 ? 'websocket' : 'polling')), {
    what: 'every client that may upgrade on WebSocket',
  });
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

/** An engine.io polling handshake on a new connection: the session id and the pid of the worker that holds it. */
async function handshake(url: string): Promise<{ sid: string; pid: number }> {
  const open = await request(`${url}/socket.io/?EIO=4&transport=polling`, { agent: false });
  assert.equal(open.status, 200, open.body);
  const sid = (JSON.parse(open.body.slice(1)) as { sid: string }).sid;
  // The Socket.IO connect packet; the answer (on the session's worker) says which worker that is.
  const post = (body: string) => request(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body, agent: false, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
  assert.equal((await post('40')).status, 200);
  const hello = await request(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { agent: false });
  assert.equal(hello.status, 200, hello.body);
  const pid = Number(/"pid":(\d+)/.exec(hello.body)?.[1]);
  return { sid, pid };
}

/** POSTs an engine.io pong to the session `count` times, each on a new connection; the statuses and bodies. */
async function pongs(url: string, sid: string, count: number): Promise<{ status: number; body: string }[]> {
  const answers: { status: number; body: string }[] = [];
  for (let i = 0; i < count; i++) {
    const res = await request(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '3', agent: false, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
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
      const polling = clients.find((c) => transportOf(c) === 'polling')!;
      const upgraded = clients.find((c) => transportOf(c) === 'websocket' && lastPid(c) !== lastPid(polling))!;
      await chatReachesEveryone(clients, polling, 'from a polling client');
      await chatReachesEveryone(clients, upgraded, 'from an upgraded client');
      // Many polls later, every session is still the one it started as: no request went to a worker without it.
      for (const client of clients) assert.equal(client.pids.length, 1, 'one session per client, never re-established');

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
