import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createSecureServer } from 'node:http2';
import { get as httpsGet } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { LocalCa } from '../../src/tls/local-ca.ts';
import { kHsts, type HstsResponse } from '../../src/tls/hsts.ts';
import { Http2Response, TlsResponse } from '../../src/tls/responses.ts';
import { isConnectionSpecific } from '../../src/worker/http-fields.ts';
import { tempDir, waitFor } from '../support/kirin.ts';
import { h2Get, h2Session, tlsRequest } from '../support/tls-client.ts';
import { LightResponse } from '../../src/handlers/app/light-response.ts';
import { writeResponse } from '../../src/handlers/app/write-response.ts';
import { onHeaders } from '../../src/middleware/on-headers.ts';
import type { NodeResponse } from '../../src/worker/context.ts';

/** How each /fetch… response ended on the server. */
const fetchEnds: { path: string; status: number; ended: boolean; finished: boolean; finishEvents: number; fieldsInMap: number }[] = [];

const CONSTANT_HEADERS = ['content-type', 'text/plain'];

/** Every way a handler writes its head. */
function handler(req: { url?: string }, res: TlsResponse | Http2Response): void {
  (res as unknown as HstsResponse)[kHsts] = 'max-age=60';
  switch (req.url) {
    case '/flat':
      res.writeHead(200, CONSTANT_HEADERS);
      break;
    case '/pairs':
      res.writeHead(200, [['content-type', 'text/plain']] as never);
      break;
    case '/object':
      res.writeHead(200, 'Fine', { 'content-type': 'text/plain' });
      break;
    case '/own':
      res.writeHead(200, ['Strict-Transport-Security', 'max-age=5']);
      break;
    case '/own-set':
      res.setHeader('strict-transport-security', 'max-age=7');
      res.writeHead(200, CONSTANT_HEADERS);
      break;
    case '/repeated':
      res.writeHead(200, ['set-cookie', 'a=1', 'content-type', 'text/plain', 'Set-Cookie', 'b=2']);
      break;
    case '/replaces':
      res.setHeader('content-type', 'text/html');
      res.setHeader('x-kept', 'yes');
      res.writeHead(200, ['Content-Type', 'text/plain', 'x-listed', 'yes']);
      break;
    case '/date':
      res.writeHead(200, ['date', 'Thu, 01 Jan 2026 00:00:00 GMT', 'content-type', 'text/plain']);
      break;
    case '/hop-by-hop':
      res.writeHead(200, ['Connection', 'close', 'content-type', 'text/plain', 'transfer-encoding', 'chunked']);
      break;
    default:
      if (req.url?.startsWith('/fetch')) return fetchHandler(req.url, res as unknown as NodeResponse);
      res.statusCode = 200;
  }
  res.end('ok');
}

/**
 * A fetch handler's `new Response(text)` as the app handler writes it, with
 * what a middleware may have done first. /fetch-other is another site's
 * route (another HSTS value, the same head); /fetch-long has a longer body.
 */
function fetchHandler(path: string, res: NodeResponse): void {
  if (path === '/fetch-set') res.setHeader('x-set', 'before');
  if (path === '/fetch-hooked') onHeaders(res, () => res.setHeader('x-hooked', 'yes'));
  if (path === '/fetch-trailer') (res as unknown as Http2Response).addTrailers({ 'x-checksum': 'abc' });
  if (path === '/fetch-other') (res as unknown as HstsResponse)[kHsts] = 'max-age=99';
  let finishEvents = 0;
  res.on('finish', () => finishEvents++);
  res.on('close', () => fetchEnds.push({ path, status: res.statusCode, ended: res.writableEnded, finished: res.writableFinished, finishEvents, fieldsInMap: res.getHeaderNames().length }));
  const body = path === '/fetch-long' ? 'fetched, longer' : 'fetched';
  void writeResponse(new LightResponse(body, { status: path === '/fetch-201' ? 201 : 200 }) as unknown as Response, res);
}

/** The paths the handler above answers without touching the response first: over HTTP/2 (not HEAD: /fetch?head) those go to the stream whole. */
const WHOLE = new Set(['/fetch', '/fetch-201', '/fetch-other', '/fetch-long']);

/** The head of an HTTP/1.1 response, with repeated fields as lists (tlsRequest keeps the last). */
function tlsRequestHeaders(port: number, ca: string, path: string): Promise<Record<string, string | string[]>> {
  return new Promise((resolve, reject) => {
    const req = httpsGet({ host: '127.0.0.1', port, path, servername: 'r.localhost', headers: { host: 'r.localhost' }, ca, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headers as Record<string, string | string[]>));
    });
    req.on('error', reject);
  });
}

describe('https responses', () => {
  let port: number;
  let root: string;
  let server: ReturnType<typeof createSecureServer>;

  before(async () => {
    const ca = new LocalCa(tempDir());
    const leaf = await ca.issue(['r.localhost']);
    root = readFileSync(ca.rootPath, 'utf8');
    server = createSecureServer({ cert: leaf.certPem, key: leaf.keyPem, allowHTTP1: true, ServerResponse: TlsResponse, Http2ServerResponse: Http2Response } as never, handler as never);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server?.close());

  it('adds Strict-Transport-Security however the head is written, over HTTP/1.1 and HTTP/2, once', async () => {
    const session = h2Session(port, 'r.localhost', root);
    try {
      for (const path of ['/flat', '/pairs', '/object', '/implicit']) {
        const h1 = await tlsRequest({ port, host: 'r.localhost', path, ca: root });
        assert.equal(h1.headers['strict-transport-security'], 'max-age=60', `HTTP/1.1 ${path}`);
        const h2 = await h2Get(session, path);
        assert.equal(h2.headers['strict-transport-security'], 'max-age=60', `HTTP/2 ${path}`);
      }
      for (const [path, value] of [['/own', 'max-age=5'], ['/own-set', 'max-age=7']]) {
        const h1 = await tlsRequest({ port, host: 'r.localhost', path, ca: root });
        assert.equal(h1.headers['strict-transport-security'], value, `the handler's own wins over HTTP/1.1 (${path})`);
        assert.equal((await h2Get(session, path!)).headers['strict-transport-security'], value, `and over HTTP/2 (${path})`);
      }
    } finally {
      session.close();
    }
    assert.deepEqual(CONSTANT_HEADERS, ['content-type', 'text/plain'], "the handler's header list is never changed");
  });

  it('applies a header list as node:http does: listed fields replace set ones, repeated names keep every value', async () => {
    const session = h2Session(port, 'r.localhost', root);
    try {
      const repeated = await h2Get(session, '/repeated');
      assert.deepEqual(repeated.headers['set-cookie'], ['a=1', 'b=2']);
      assert.equal(repeated.headers['content-type'], 'text/plain');
      assert.equal(repeated.headers['strict-transport-security'], 'max-age=60');
      assert.deepEqual((await tlsRequestHeaders(port, root, '/repeated'))['set-cookie'], ['a=1', 'b=2'], 'as over HTTP/1.1');

      const replaces = await h2Get(session, '/replaces');
      assert.equal(replaces.headers['content-type'], 'text/plain');
      assert.equal(replaces.headers['x-kept'], 'yes');
      assert.equal(replaces.headers['x-listed'], 'yes');
      assert.equal(replaces.headers['strict-transport-security'], 'max-age=60');

      assert.equal((await h2Get(session, '/date')).headers.date, 'Thu, 01 Jan 2026 00:00:00 GMT', 'a listed Date is sent as is, not replaced');

      const hop = await h2Get(session, '/hop-by-hop');
      assert.equal(hop.status, 200);
      assert.equal(hop.body, 'ok');
      assert.equal(hop.headers['content-type'], 'text/plain');
      for (const name of ['connection', 'transfer-encoding']) assert.equal(hop.headers[name], undefined, name);
    } finally {
      session.close();
    }
  });

  it("sends a fetch handler's text response whole over HTTP/2, as the generic path would, and steps aside when anything touched the response", async () => {
    fetchEnds.length = 0;
    const session = h2Session(port, 'r.localhost', root);
    const paths = ['/fetch', '/fetch-other', '/fetch-201', '/fetch', '/fetch-long', '/fetch-other', '/fetch-set', '/fetch-hooked', '/fetch-trailer'];
    try {
      for (const path of paths) {
        const h2 = await h2Get(session, path);
        const long = path === '/fetch-long';
        assert.equal(h2.status, path === '/fetch-201' ? 201 : 200, path);
        assert.equal(h2.body, long ? 'fetched, longer' : 'fetched', path);
        assert.equal(h2.headers['content-type'], 'text/plain;charset=UTF-8', path);
        assert.equal(h2.headers['content-length'], long ? '15' : '7', path);
        assert.equal(h2.headers['strict-transport-security'], path === '/fetch-other' ? 'max-age=99' : 'max-age=60', `${path}: its own site's HSTS, however the responses alternate`);
        assert.match(String(h2.headers.date), /GMT$/, `${path}: a Date field, as Node adds`);
      }
      assert.equal((await h2Get(session, '/fetch-set')).headers['x-set'], 'before', 'a field set before the handler is kept');
      assert.equal((await h2Get(session, '/fetch-hooked')).headers['x-hooked'], 'yes', 'a writeHead hook (compression, header middleware) still runs');
      assert.equal((await h2Get(session, '/fetch-trailer')).trailers['x-checksum'], 'abc', 'trailers the handler added are sent');
      const head = await h2Get(session, '/fetch?head', { ':method': 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.body, '', 'no body for HEAD');
      assert.equal(head.headers['content-length'], '7');
    } finally {
      session.close();
    }
    const h1 = await tlsRequest({ port, host: 'r.localhost', path: '/fetch?h1', ca: root });
    assert.equal(h1.body, 'fetched', 'HTTP/1.1 goes the generic way');
    assert.equal(h1.headers['strict-transport-security'], 'max-age=60');
    const count = paths.length + 5;
    await waitFor(() => fetchEnds.length >= count, { what: 'every response to close' });
    for (const end of fetchEnds) {
      // What the request path's close hook, access log and metrics read.
      assert.equal(end.ended, true, `${end.path} reads as ended`);
      assert.equal(end.finished, true, `${end.path} reads as finished`);
      assert.equal(end.finishEvents, 1, `${end.path}: one 'finish'`);
      assert.equal(end.status, end.path === '/fetch-201' ? 201 : 200, `${end.path}: its status is on the response`);
    }
    // Over HTTP/1.1, node:http's writeHead with a list skips its header map too: nothing to tell apart there.
    for (const end of fetchEnds.filter((e) => e.path !== '/fetch?h1')) {
      if (WHOLE.has(end.path)) assert.equal(end.fieldsInMap, 0, `${end.path} went to the stream whole, not through the response's header map`);
      else assert.ok(end.fieldsInMap > 0, `${end.path} went the generic way`);
    }
  });

  it('knows the header fields HTTP/2 forbids', () => {
    for (const name of ['Connection', 'keep-alive', 'Transfer-Encoding', 'upgrade', 'proxy-connection', 'HTTP2-Settings']) assert.equal(isConnectionSpecific(name), true, name);
    assert.equal(isConnectionSpecific('te', 'trailers'), false);
    assert.equal(isConnectionSpecific('te', 'gzip'), true);
    for (const name of ['content-type', 'set-cookie', 'strict-transport-security', 'x-connection']) assert.equal(isConnectionSpecific(name), false, name);
  });
});
