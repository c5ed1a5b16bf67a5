/**
 * The handler in-process behind node:http and node:http2 (h2c): the same
 * handler must work on HTTP/2's compatibility response, which Kirin's TLS
 * listeners hand it. Whole-process behaviour is in test/e2e/static*.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createH2Server, type ClientHttp2Session, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { StaticHandlerPlan } from '../../../src/config/plan.ts';
import { createStaticHandler, type StaticTuning } from '../../../src/handlers/static/index.ts';
import { RequestContext, type CompileEnv, type NodeRequest, type NodeResponse, type RouteHandler } from '../../../src/worker/context.ts';
import { normalizeTarget } from '../../../src/worker/normalize.ts';
import { request } from '../../support/http.ts';
import { tempDir, waitFor, writeFiles } from '../../support/kirin.ts';

const BIG = randomBytes(1024 * 1024 + 3);

function makeHandler(root: string, tuning: Partial<StaticTuning> = {}): RouteHandler {
  const plan: StaticHandlerPlan = { type: 'static', root, immutable: false, spa: null, index: ['index.html'], cacheControl: 'no-cache' };
  const env = {
    route: { prefix: '/files', at: 'sites["*"]["/files"]', handler: plan, middleware: { stripPrefix: null } },
    logger: pino({ level: 'silent' }),
  } as unknown as CompileEnv;
  return createStaticHandler(plan, env, tuning);
}

/** What the pipeline does before a handler runs, reduced to what the static handler reads. */
function serve(handler: RouteHandler) {
  return (req: NodeRequest, res: NodeResponse) => {
    const target = normalizeTarget(req.url ?? '/');
    if (typeof target === 'string') throw new Error(target);
    const ctx = new RequestContext(req, res, req.method ?? 'GET', target.path, target.encodedPath, target.query, 'localhost', 'localhost', null as never, null as never, false, null as never, performance.now());
    const result = handler.handle(ctx);
    if (result) result.catch((error: unknown) => res.destroy(error as Error));
  };
}

function h2Get(session: ClientHttp2Session, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ...headers });
    const chunks: Buffer[] = [];
    let head: Record<string, unknown> = {};
    stream.on('response', (h) => (head = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    stream.end();
  });
}

describe('static handler in-process', () => {
  let http: Server;
  let h2: Http2Server;
  let session: ClientHttp2Session;
  let httpUrl: string;
  before(async () => {
    const root = tempDir();
    writeFiles(root, { 'small.txt': 'small file\n', 'big.bin': BIG, 'docs/index.html': 'docs' });
    const handler = makeHandler(root);
    http = createServer(serve(handler));
    h2 = createH2Server(serve(handler) as never);
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
    httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    session = connect(`http://127.0.0.1:${(h2.address() as AddressInfo).port}`);
  });
  after(() => {
    session?.close();
    http?.close();
    h2?.close();
  });

  it('cuts the route prefix: /files/x is root/x', async () => {
    assert.equal((await request(`${httpUrl}/files/small.txt`)).body, 'small file\n');
    const redirect = await request(`${httpUrl}/files/docs?a=1`);
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.location, '/files/docs/?a=1');
  });

  it('serves a small file over HTTP/2', async () => {
    const res = await h2Get(session, '/files/small.txt');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'small file\n');
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  });

  it('streams a large file and a range of it over HTTP/2', async () => {
    const full = await h2Get(session, '/files/big.bin');
    assert.equal(full.status, 200);
    assert.ok(full.body.equals(BIG));
    const part = await h2Get(session, '/files/big.bin', { range: 'bytes=100000-299999' });
    assert.equal(part.status, 206);
    assert.ok(part.body.equals(BIG.subarray(100000, 300000)));
  });

  it('answers 304 and HEAD over HTTP/2', async () => {
    const first = await h2Get(session, '/files/small.txt');
    const again = await h2Get(session, '/files/small.txt', { 'if-none-match': String(first.headers.etag) });
    assert.equal(again.status, 304);
    const head = await h2Get(session, '/files/big.bin', { ':method': 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(BIG.length));
    assert.equal(head.body.length, 0);
  });

  it('closes its side when an HTTP/2 client cancels a large file mid-stream', async () => {
    const serverStream = new Promise<ServerHttp2Stream>((resolve) => h2.once('stream', resolve));
    await new Promise<void>((resolve) => {
      const stream = session.request({ ':path': '/files/big.bin' });
      stream.once('data', () => stream.close());
      stream.on('close', () => resolve());
      stream.on('error', () => resolve());
      stream.end();
    });
    const stream = await serverStream;
    // Node keeps a reset stream with pending writes open until someone destroys it; the handler must.
    await waitFor(() => stream.destroyed, { what: 'the server side of the cancelled stream to be destroyed', timeoutMs: 5000 });
    assert.equal((await h2Get(session, '/files/small.txt')).status, 200);
  });

  it('disconnects a client that stops reading a streamed file for the send timeout', async () => {
    const root = tempDir();
    // Sparse 64 MiB: more than loopback socket buffers take, so the stream really stalls.
    writeFiles(root, { 'huge.bin': '' });
    truncateSync(join(root, 'huge.bin'), 64 * 1024 * 1024);
    const server = createServer(serve(makeHandler(root, { sendTimeoutMs: 200 })));
    let serverSideClosed = false;
    server.on('connection', (s) => s.on('close', () => (serverSideClosed = true)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const socket = netConnect((server.address() as AddressInfo).port, '127.0.0.1');
      socket.on('error', () => {});
      socket.once('data', () => socket.pause());
      socket.write('GET /files/huge.bin HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await waitFor(() => serverSideClosed, { what: 'the server to close the stalled connection', timeoutMs: 10_000 });
      // Reading again, the client finds a cut-off response, not the whole file.
      let closed = false;
      socket.on('close', () => (closed = true));
      socket.resume();
      await waitFor(() => closed, { what: 'the client to see the connection closed', timeoutMs: 10_000 });
      assert.ok(socket.bytesRead < 64 * 1024 * 1024, `closed after ${socket.bytesRead} bytes`);
    } finally {
      server.close();
    }
  });
});
