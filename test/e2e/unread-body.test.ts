/**
 * A request body nobody reads still meets the route's limit. Routes that answer
 * without reading (an allow-list 403, a basic-auth 401, a static 405, a
 * `respond` route) used to throw away a chunked body without any limit: 2,000 MB
 * were taken after the 403 had gone out. As nginx does with a discarded body
 * ("client intended to send too large chunked body"), Kirin counts what it
 * throws away and closes the connection once that passes `maxBody`; a small
 * body is thrown away and the connection serves the next request.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { readyPids } from '../support/control.ts';
import { KIRIN_BIN, portOf, startKirin, tempDir, writeFiles, type KirinProcess } from '../support/kirin.ts';

const MAX_BODY = 64 * 1024;
/** What a client may push before giving up on being stopped: far past the limit and the kernel's socket buffers on loopback. */
const GIVE_UP_AFTER = 256 * 1024 * 1024;

interface Flood {
  status: number;
  head: string;
  /** The server closed the connection before the client gave up. */
  closed: boolean;
  bytesSent: number;
}

/** Sends a chunked body to `path` as fast as the connection takes it, until the server closes the connection or GIVE_UP_AFTER bytes. */
function flood(port: number, path: string, headers = ''): Promise<Flood> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunk = Buffer.from(`4000\r\n${'x'.repeat(0x4000)}\r\n`, 'latin1');
    let received = '';
    let bytesSent = 0;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      socket.destroy();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
      resolve({ status, head: received.split('\r\n\r\n')[0] ?? '', closed, bytesSent });
    };
    const pump = () => {
      while (!done && bytesSent < GIVE_UP_AFTER) {
        bytesSent += chunk.length;
        if (!socket.write(chunk)) return;
      }
      if (bytesSent >= GIVE_UP_AFTER) finish(false);
    };
    socket.on('connect', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: unread.test\r\nTransfer-Encoding: chunked\r\n${headers}\r\n`);
      pump();
    });
    socket.on('drain', pump);
    socket.on('data', (data: Buffer) => (received += data.toString('latin1')));
    // A reset after the close is the end of the connection too: the answer came before it.
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('end', () => finish(true));
    socket.setTimeout(30_000, () => reject(new Error(`${path}: neither closed nor stalled in 30 s`)));
  });
}

/** Bytes the process has read through system calls so far (sockets included): what the worker took off the wire. */
function bytesRead(pid: number): number {
  return Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
}

describe('request bodies nobody reads', () => {
  let kirin: KirinProcess;
  let port: number;
  let worker: number;

  before(async () => {
    const dir = tempDir();
    const hash = spawnSync(process.execPath, [KIRIN_BIN, 'hash-password'], { input: 'secret\n', encoding: 'utf8' }).stdout.trim();
    writeFiles(dir, {
      'public/index.html': '<p>hello</p>',
      'kirin.config.json': JSON.stringify({
        limits: { maxBody: '64kb' },
        sites: {
          '*': {
            '/admin': { respond: 'inside', allow: ['10.0.0.0/8'] },
            '/private': { respond: 'inside', auth: { users: { alice: hash } } },
            '/files': { static: './public' },
            '/ok': { respond: 'OK' },
          },
        },
      }),
    });
    kirin = await startKirin({ cwd: dir, args: ['serve', '--workers', '1', '--bind', '127.0.0.1:0', '--state-dir', `${dir}/state`] });
    port = portOf(kirin.url);
    [worker] = await readyPids(kirin.stateDir);
  });
  after(() => kirin?.stop());

  for (const [path, status] of [
    ['/admin/x', 403],
    ['/private/x', 401],
    ['/files/index.html', 405],
    ['/ok', 200],
    ['/nowhere', 404],
  ] as const) {
    it(`answers ${status} on ${path} and closes the connection once the thrown-away body passes maxBody`, async () => {
      const before = bytesRead(worker);
      const result = await flood(port, path);
      const taken = bytesRead(worker) - before;
      assert.equal(result.status, status, result.head);
      assert.ok(result.closed, `the connection stayed open after ${result.bytesSent} bytes`);
      // The last read may carry one socket buffer's worth past the limit.
      assert.ok(taken <= MAX_BODY + 256 * 1024, `the worker read ${taken} bytes of a body whose limit is ${MAX_BODY}`);
    });
  }

  it('throws a small unread body away and serves the next request on the same connection', async () => {
    const answers = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      let received = '';
      socket.on('connect', () => {
        socket.write('POST /admin/x HTTP/1.1\r\nHost: unread.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
        socket.write('GET /ok HTTP/1.1\r\nHost: unread.test\r\nConnection: close\r\n\r\n');
      });
      socket.on('data', (data: Buffer) => (received += data.toString('latin1')));
      socket.on('end', () => resolve(received));
      socket.on('error', reject);
    });
    assert.deepEqual([...answers.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]), ['403', '200']);
  });
});
