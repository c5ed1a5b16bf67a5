/**
 * The static-file part of ANCHORS.md's "Hostile inputs": each request gets a
 * safe answer, never a byte of the sibling `root-secret/` or a dotfile, and
 * the worker keeps serving afterwards. Plus a slow client: readers that never
 * read a large file do not grow the worker's memory.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { rawRequest, request } from '../support/http.ts';
import { portOf, waitFor } from '../support/kirin.ts';
import { HELLO, HUGE_BYTES, SECRET, startStaticSite, type StaticSite } from './static-site.ts';

/** [request target, extra header lines, the safe status]. */
const HOSTILE: [string, string, number][] = [
  ['/%2e%2e/root-secret/secret.txt', '', 400],
  ['/%2E%2E/root-secret/secret.txt', '', 400],
  ['/%2e./root-secret/secret.txt', '', 400],
  ['/.%2e/root-secret/secret.txt', '', 400],
  ['/docs/%2e%2e/%2e%2e/root-secret/secret.txt', '', 400],
  ['/../root-secret/secret.txt', '', 400], // curl --path-as-is
  ['/../../../../etc/passwd', '', 400],
  ['/%252e%252e%252froot-secret%252fsecret.txt', '', 404], // decoded once: a file literally named so
  ['/..\\root-secret\\secret.txt', '', 400],
  ['/%5c..%5croot-secret%5csecret.txt', '', 400],
  ['/C:%5cWindows%5cwin.ini', '', 400],
  ['/C:\\Windows\\win.ini', '', 400],
  ['\\\\host\\share\\secret.txt', '', 400], // UNC
  ['/\\\\host\\share', '', 400],
  ['/%00', '', 400],
  ['/hello.txt%00.png', '', 400],
  ['/.env', '', 404],
  ['/.git/config', '', 404],
  ['/%2egit/config', '', 404],
  ['/escape.txt', '', 404],
  ['/escape-dir/secret.txt', '', 404],
  ['/hello.txt', 'If-Modified-Since: garbage\r\n', 200],
  ['/hello.txt', 'If-Modified-Since: 9999\r\n', 200],
  ['/hello.txt', 'If-Modified-Since: Sun, 31 Feb 2099 00:00:00 GMT\r\n', 200],
  ['/hello.txt', 'If-None-Match: garbage"\r\n', 200],
  ['/hello.txt', 'Range: bytes=garbage\r\n', 200],
  ['/hello.txt', 'Range: bytes=--1\r\n', 200],
  ['/hello.txt', 'Range: bytes=0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0\r\n', 200],
  ['/hello.txt', 'Range: bytes=99999999999999999999999-\r\n', 416],
  ['/hello.txt', 'Range: bytes=0-4\r\nIf-Range: garbage\r\n', 200],
  ['/hello.txt', 'Range: bytes=-99999999999999999999999\r\n', 206],
];

describe('static files under hostile input', () => {
  let site: StaticSite;
  let port: number;
  let worker: number;
  before(async () => {
    site = await startStaticSite();
    port = portOf(site.kirin.url);
    worker = site.workerPid();
  });
  after(() => site?.kirin.stop());

  async function stillServes(): Promise<void> {
    const res = await request(`${site.kirin.url}/hello.txt`);
    assert.equal(res.status, 200);
    assert.equal(res.body, HELLO);
  }

  for (const [target, headers, status] of HOSTILE) {
    it(`${target} ${headers.trim().replace(/\r\n/g, '; ')} → ${status}`, async () => {
      const res = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}Connection: close\r\n\r\n`);
      assert.equal(res.status, status, res.raw.slice(0, 300));
      assert.ok(!res.raw.includes(SECRET), 'no secret in the response');
      await stillServes();
    });
  }

  it('Host: .. is refused before any file is looked at', async () => {
    const res = await rawRequest(port, 'GET /hello.txt HTTP/1.1\r\nHost: ..\r\nConnection: close\r\n\r\n');
    assert.equal(res.status, 400);
    await stillServes();
  });

  it('readers that never read a large file leave memory bounded and the worker serving', async (t) => {
    const before = rss(worker);
    const sockets: Socket[] = [];
    const clients = 8; // 8 × 64 MiB = 512 MiB if the file were buffered per client
    let started = 0;
    try {
      for (let i = 0; i < clients; i++) {
        const socket = connect({ host: '127.0.0.1', port });
        socket.on('error', () => {});
        // Take the first chunk (the response has begun), then never read again.
        socket.once('data', () => {
          socket.pause();
          started++;
        });
        socket.write('GET /huge.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        sockets.push(socket);
      }
      await waitFor(() => started === clients, { what: 'every stalled response to begin' });
      // Let the worker read until backpressure stops it: memory stops moving.
      let last = -Infinity;
      await waitFor(
        () => {
          const now = rss(worker);
          const settled = Math.abs(now - last) < 1024 * 1024;
          last = now;
          return settled;
        },
        { what: 'the worker memory to settle', intervalMs: 250, timeoutMs: 15_000 },
      );
      await stillServes();
      const grown = rss(worker) - before;
      t.diagnostic(`worker RSS grew by ${(grown / 1048576).toFixed(1)} MiB with ${clients} stalled readers`);
      // What the kernel's socket buffers took (a few MiB per connection) passed through the worker's memory; the file did not stay in it.
      assert.ok(grown < HUGE_BYTES * clients / 4, `worker RSS grew by ${(grown / 1048576).toFixed(1)} MiB with ${clients} stalled readers`);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    await stillServes();
    assert.equal(site.workerPid(), worker, 'the same worker, never restarted');
  });

  it('the worker never restarted during the hostile requests', () => {
    assert.equal(site.workerPid(), worker);
    assert.doesNotMatch(site.kirin.output(), /died/);
  });
});

/** Resident memory of a process, in bytes. */
function rss(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}
