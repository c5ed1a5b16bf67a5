/**
 * How Kirin fits into a machine: unix sockets, systemd socket activation and
 * readiness notification, PID files, the control commands, log reopening, and
 * the errors a user meets first (port in use, old Node).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodeProxyHeader } from '../../src/relay/proxy-protocol.ts';
import { request } from '../support/http.ts';
import { KIRIN_BIN, ROOT, startKirin, tempDir, waitFor, type KirinProcess } from '../support/kirin.ts';

function project(): string {
  const dir = tempDir();
  copyFileSync(join(ROOT, 'test/fixtures/apps/pid-fetch.ts'), join(dir, 'app.ts'));
  return dir;
}

function kirinCli(cwd: string, ...args: string[]) {
  return spawnSync(process.execPath, [KIRIN_BIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
}

describe('listening', () => {
  it('--bind unix:/path: socket mode 0660, served, removed on exit', async () => {
    const dir = project();
    const socketPath = join(dir, 'kirin.sock');
    const kirin = await startKirin({ cwd: dir, args: ['serve', 'app.ts', '--workers', '1', '--bind', `unix:${socketPath}`, '--state-dir', join(dir, 'state')] });
    assert.equal(kirin.url, `unix:${socketPath}`);
    assert.equal(statSync(socketPath).mode & 0o777, 0o660);
    const res = await request('http://localhost/', { socketPath });
    assert.equal(res.status, 200);
    await kirin.stop();
    assert.equal(existsSync(socketPath), false);
  });

  it('a port already in use is one clear error line and exit code 1', async () => {
    const dir = project();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const result = kirinCli(dir, 'serve', 'app.ts', '--bind', `127.0.0.1:${port}`, '--state-dir', join(dir, 'state'));
      assert.equal(result.status, 1);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, new RegExp(`^kirin: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
    } finally {
      holder.close();
    }
  });
});

describe('systemd', () => {
  /**
   * Kirin started as systemd would: a socket bound here, passed as descriptor 3 with LISTEN_FDS
   * (and LISTEN_FDNAMES when named). LISTEN_PID must be the master's PID: set in the shell that then execs Kirin.
   */
  async function activated(dir: string, args: string[], fdName?: string): Promise<{ kirin: KirinProcess; port: number }> {
    const activator: Server = createServer();
    await new Promise<void>((resolve) => activator.listen(0, '127.0.0.1', resolve));
    const port = (activator.address() as { port: number }).port;
    const fd = (activator as unknown as { _handle: { fd: number } })._handle.fd;
    const kirin = await startKirin({
      cwd: dir,
      args: ['serve', 'app.ts', ...args, '--state-dir', join(dir, 'state')],
      extraFds: [fd],
      shellPrefix: `LISTEN_FDS=1 LISTEN_PID=$$${fdName ? ` LISTEN_FDNAMES=${fdName}` : ''}`,
    });
    // The test's copy of the socket goes away; Kirin's stays.
    activator.close();
    return { kirin, port };
  }

  it('socket activation: serves on the descriptor passed in LISTEN_FDS', async () => {
    const { kirin, port } = await activated(project(), ['--workers', '2']);
    try {
      assert.deepEqual(kirin.urls, ['http://(fd 3)']);
      const res = await request(`http://127.0.0.1:${port}/`, { agent: false });
      assert.equal(res.status, 200);
      assert.match(res.body, /^v1 /);
    } finally {
      await kirin.stop();
    }
  });

  it('socket activation: a descriptor named http-proxy expects a PROXY header from a trusted proxy, as a proxyProtocol listener does', async () => {
    const { kirin, port } = await activated(project(), ['--workers', '1', '--trusted-proxy', '127.0.0.1'], 'http-proxy');
    try {
      const exchange = (prefix: Buffer) =>
        new Promise<string>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1');
          let answer = '';
          socket.setEncoding('utf8');
          socket.on('data', (chunk: string) => (answer += chunk));
          socket.on('error', reject);
          socket.on('close', () => resolve(answer));
          socket.end(Buffer.concat([prefix, Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')]));
        });
      assert.equal(await exchange(Buffer.alloc(0)), '', 'a connection without a PROXY header is refused');
      const header = encodeProxyHeader({ address: '203.0.113.9', port: 40000 }, { address: '127.0.0.1', port });
      assert.match(await exchange(header), /^HTTP\/1\.1 200 /);
    } finally {
      await kirin.stop();
    }
  });

  it('sd_notify: READY=1 when serving, RELOADING=1 then READY=1 on reload, STOPPING=1 on stop', async () => {
    const dir = project();
    const notifySocket = join(dir, 'notify.sock');
    // Node cannot bind a unix datagram socket; a few lines of Python can.
    const receiver = spawn('python3', [
      '-u',
      '-c',
      `import socket,sys
s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('listening', flush=True)
while True:
    data=s.recv(4096)
    print(data.decode().replace('\\n',' '), flush=True)`,
      notifySocket,
    ]);
    const messages: string[] = [];
    receiver.stdout.setEncoding('utf8');
    receiver.stdout.on('data', (chunk: string) => messages.push(...chunk.trim().split('\n')));
    await waitFor(() => messages.includes('listening'), { what: 'the notify receiver' });
    const kirin = await startKirin({ cwd: dir, args: ['serve', 'app.ts', '--workers', '1', '--bind', '127.0.0.1:0', '--state-dir', join(dir, 'state')], env: { NOTIFY_SOCKET: notifySocket } });
    try {
      await waitFor(() => messages.some((m) => m.includes('READY=1')), { what: 'READY=1' });
      kirin.signal('SIGHUP');
      await waitFor(() => messages.filter((m) => m.includes('READY=1')).length === 2, { what: 'READY=1 after the reload' });
      const reloading = messages.findIndex((m) => m.includes('RELOADING=1'));
      const secondReady = messages.findLastIndex((m) => m.includes('READY=1'));
      assert.ok(reloading > 0 && reloading < secondReady, messages.join(' | '));
      assert.match(messages[reloading]!, /MONOTONIC_USEC=\d+/);
      await kirin.stop();
      await waitFor(() => messages.some((m) => m.includes('STOPPING=1')), { what: 'STOPPING=1' });
      // systemd-notify adds a BARRIER=1 message after each (so the order holds); the rest name the master.
      const states = messages.filter((m) => /READY|RELOADING|STOPPING/.test(m));
      assert.ok(states.every((m) => m.includes(`MAINPID=${kirin.pid}`)), messages.join(' | '));
    } finally {
      receiver.kill();
      await kirin.stop();
    }
  });
});

describe('control commands and files', () => {
  it('--pid writes the master PID; kirin status, reload and stop talk to the running master', async () => {
    const dir = project();
    const pidFile = join(dir, 'kirin.pid');
    const state = join(dir, 'state');
    const kirin = await startKirin({ cwd: dir, args: ['serve', 'app.ts', '--workers', '2', '--bind', '127.0.0.1:0', '--state-dir', state, '--pid', pidFile] });
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(kirin.pid));
    assert.equal(statSync(join(state, 'control.sock')).mode & 0o777, 0o600);

    const human = kirinCli(dir, 'status', '--state-dir', state);
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`^Kirin master pid ${kirin.pid}, generation 1`));
    assert.match(human.stdout, /WORKER\s+PID\s+GEN\s+STATE\s+UPTIME\s+RSS\s+REQUESTS\s+WEBSOCKETS\s+RESTARTS/);

    const json = JSON.parse(kirinCli(dir, 'status', '--json', '--state-dir', state).stdout);
    assert.equal(json.workers.length, 2);
    for (const w of json.workers) {
      assert.equal(w.state, 'ready');
      assert.ok(w.rss > 0 && w.uptimeMs >= 0 && w.generation === 1 && typeof w.served === 'number' && w.restarts === 0);
    }

    const reload = kirinCli(dir, 'reload', '--state-dir', state);
    assert.equal(reload.status, 0, reload.stderr);
    assert.equal(reload.stdout, 'reloaded: generation 2 is serving\n');

    const stop = kirinCli(dir, 'stop', '--state-dir', state);
    assert.equal(stop.status, 0, stop.stderr);
    assert.equal((await kirin.exited).code, 0);
    assert.equal(existsSync(pidFile), false);
    const after = kirinCli(dir, 'status', '--state-dir', state);
    assert.equal(after.status, 1);
    assert.match(after.stderr, /Kirin is not running/);
  });

  it('USR1 reopens the access log file (logrotate)', async () => {
    const dir = project();
    const log = join(dir, 'access.log');
    const kirin = await startKirin({ cwd: dir, args: ['serve', 'app.ts', '--workers', '1', '--bind', '127.0.0.1:0', '--state-dir', join(dir, 'state'), '--access-log', log] });
    try {
      await request(`${kirin.url}/before`);
      await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('/before'), { what: 'the first access line' });
      renameSync(log, `${log}.1`);
      kirin.signal('SIGUSR1');
      await kirin.waitForLine((l) => l.msg === 'SIGUSR1: reopening log files', 5000);
      await waitFor(
        async () => {
          await request(`${kirin.url}/after`);
          return existsSync(log) && readFileSync(log, 'utf8').includes('/after');
        },
        { what: 'the access log to be reopened' },
      );
      const entry = JSON.parse(readFileSync(log, 'utf8').trim().split('\n').at(-1)!);
      assert.equal(entry.path, '/after');
      assert.equal(entry.status, 200);
      assert.equal(entry.client, '127.0.0.1');
      assert.ok(!readFileSync(`${log}.1`, 'utf8').includes('/after'));
    } finally {
      await kirin.stop();
    }
  });
});

describe('an old Node', () => {
  it('prints one clear line and exits 1', () => {
    const result = spawnSync('/usr/bin/node', [KIRIN_BIN, 'serve', 'app.ts'], { encoding: 'utf8' });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^kirin: Node\.js 22\.12 or newer is required; this is v20\.\d+\.\d+\./);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  });
});
