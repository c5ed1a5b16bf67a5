/**
 * Limits protect the workers: slow, oversized and malformed requests get a
 * clear 4xx and their connection closed, and the worker keeps serving.
 * Application errors become a 500 without internals; the stack goes to the log.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rawRequest, request } from '../support/http.ts';
import { portOf, ROOT, startKirin, tempDir, type KirinProcess } from '../support/kirin.ts';

describe('limits and errors', () => {
  let kirin: KirinProcess;
  let port: number;
  before(async () => {
    const dir = tempDir();
    copyFileSync(join(ROOT, 'test/fixtures/apps/pid-fetch.ts'), join(dir, 'app.ts'));
    kirin = await startKirin({
      cwd: dir,
      args: [
        'serve',
        'app.ts',
        '--workers',
        '1',
        '--bind',
        '127.0.0.1:0',
        '--state-dir',
        join(dir, 'state'),
        '--header-timeout',
        '1',
        '--request-timeout',
        '2',
        '--keep-alive-timeout',
        '1',
        '--max-body',
        '1kb',
      ],
    });
    port = portOf(kirin.url);
  });
  after(() => kirin.stop());

  async function stillServing(): Promise<void> {
    const res = await request(`${kirin.url}/`, { agent: false });
    assert.equal(res.status, 200, 'the worker still serves');
  }

  it('headers trickling in (slowloris) get 408 at the header timeout', async () => {
    const res = await rawRequest(port, ['GET / HTTP/1.1\r\n', 'Host: a\r\n', 'X-1: a\r\n', 'X-2: b\r\n'], { delayMs: 700, timeoutMs: 8000 });
    assert.equal(res.status, 408);
    assert.ok(res.closed);
    await stillServing();
  });

  it('a request head over the size limit gets 431', async () => {
    const res = await rawRequest(port, `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(res.status, 431);
    assert.ok(res.closed);
    await stillServing();
  });

  it('more header fields than the limit gets 431', async () => {
    const fields = Array.from({ length: 101 }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
    const res = await rawRequest(port, `GET / HTTP/1.1\r\nHost: a\r\n${fields}\r\n`);
    assert.equal(res.status, 431);
    await stillServing();
  });

  it('a declared body over --max-body gets 413 before it is read', async () => {
    const res = await rawRequest(port, `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n`);
    assert.equal(res.status, 413);
    assert.ok(res.closed);
    await stillServing();
  });

  it('malformed requests get 400 and their connection closed', async () => {
    for (const bad of ['GARBAGE\r\n\r\n', 'GET / HTTP/1.1\r\nHost a\r\n\r\n', 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 'GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n']) {
      const res = await rawRequest(port, bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.ok(res.closed, JSON.stringify(bad));
    }
    await stillServing();
  });

  it('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    assert.match(received, /^HTTP\/1\.1 200 OK/);
    assert.match(received, /Keep-Alive: timeout=1/);
  });

  it('an error thrown by the app: 500 without the stack; the stack in the error log', async () => {
    const res = await request(`${kirin.url}/throw`);
    assert.equal(res.status, 500);
    assert.equal(res.body, '500 Internal Server Error\n');
    const line = await kirin.waitForLine((l) => l.level === 'error' && typeof l.msg === 'string' && l.msg.includes('the app threw'), 5000, 'the error log');
    assert.match(JSON.stringify(line.err), /boom from the app/);
    assert.match(JSON.stringify(line.err), /app\.ts:\d+/);
    assert.equal(line.path, '/throw');
    assert.equal(line.method, 'GET');
    await stillServing();
  });

  it('writes one JSON access line per request: time, client, method, path, status, bytes, duration', async () => {
    await request(`${kirin.url}/logged?q=1`, { headers: { 'user-agent': 'kirin-test' } });
    const line = await kirin.waitForLine((l) => l.type === 'access' && l.path === '/logged?q=1', 5000, 'the access line');
    assert.equal(line.client, '127.0.0.1');
    assert.equal(line.method, 'GET');
    assert.equal(line.status, 200);
    assert.equal(line.ua, 'kirin-test');
    assert.ok(Number(line.bytes) > 0);
    assert.ok(typeof line.duration_ms === 'number' && line.duration_ms >= 0);
    assert.ok(!Number.isNaN(Date.parse(String(line.time))));
  });
});

describe('request bodies', () => {
  let kirin: KirinProcess;
  let port: number;
  before(async () => {
    const dir = tempDir();
    copyFileSync(join(ROOT, 'test/fixtures/apps/echo-body.ts'), join(dir, 'echo.ts'));
    kirin = await startKirin({ cwd: dir, args: ['serve', 'echo.ts', '--workers', '1', '--bind', '127.0.0.1:0', '--state-dir', join(dir, 'state'), '--max-body', '1kb', '--request-timeout', '2'] });
    port = portOf(kirin.url);
  });
  after(() => kirin.stop());

  async function stillServing(): Promise<void> {
    const res = await request(`${kirin.url}/`, { method: 'POST', body: 'ok', agent: false });
    assert.equal(res.status, 200, 'the worker still serves');
  }

  it('a body trickling in (slow POST) is cut off at the request timeout', async () => {
    const head = 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n';
    const res = await rawRequest(port, [head, 'a', 'b', 'c', 'd', 'e', 'f'], { delayMs: 600, timeoutMs: 8000 });
    assert.ok(res.closed, 'the connection was closed');
    assert.ok(res.status === 408 || res.status === 0, `got ${res.status}`);
    await stillServing();
  });

  it('a chunked body larger than the limit gets 413 when the app reads it', async () => {
    {
      const small = await request(`${kirin.url}/`, { method: 'POST', body: 'hello', headers: { 'transfer-encoding': 'chunked' } });
      assert.equal(small.body, 'got 5 bytes');
      const big = await request(`${kirin.url}/`, { method: 'POST', body: 'x'.repeat(4096), headers: { 'transfer-encoding': 'chunked' } });
      assert.equal(big.status, 413);
    }
  });

  it('a POST without Content-Length or Transfer-Encoding has an empty body, read at once and as a stream', async () => {
    // Such a request starts ended in a fetch-only worker (node:http's optimizeEmptyRequests): no 'end' event comes to wait for.
    for (const path of ['/', '/?stream']) {
      const res = await rawRequest(port, `POST ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`, { timeoutMs: 5000 });
      assert.equal(res.status, 200, path);
      assert.match(res.raw, /got 0 bytes/, path);
    }
  });
});

describe('body limits for Node listener apps', () => {
  it('a chunked body larger than --max-body gets 413 even when the app reads the stream itself', async () => {
    const dir = tempDir();
    copyFileSync(join(ROOT, 'test/fixtures/apps/node-body.mjs'), join(dir, 'app.mjs'));
    const kirin = await startKirin({ cwd: dir, args: ['serve', 'app.mjs', '--workers', '1', '--bind', '127.0.0.1:0', '--state-dir', join(dir, 'state'), '--max-body', '1kb'] });
    try {
      const small = await request(`${kirin.url}/`, { method: 'POST', body: 'x'.repeat(1000), headers: { 'transfer-encoding': 'chunked' } });
      assert.equal(small.body, 'node got 1000 bytes');
      const big = await rawRequest(portOf(kirin.url), ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n', `800\r\n${'x'.repeat(2048)}\r\n`, '0\r\n\r\n']);
      assert.equal(big.status, 413);
      assert.ok(big.closed);
      assert.equal((await request(`${kirin.url}/`, { method: 'POST', body: 'ok' })).body, 'node got 2 bytes');
      // A Node listener keeps node:http's request life cycle: a GET still ends with 'end' for an app that waits for it.
      assert.equal((await request(`${kirin.url}/`)).body, 'node got 0 bytes');
    } finally {
      await kirin.stop();
    }
  });
});
