/**
 * `compress` on real node:http responses over loopback, in this process: the
 * middleware wraps the response, then a handler writes it the way apps do.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { DEFAULT_COMPRESSIBLE } from '../../src/config/normalize-routes.ts';
import { chooseCoding, compress, typeMatcher } from '../../src/middleware/compress.ts';
import { SYNC_LIMIT } from '../../src/middleware/compressing-response.ts';
import type { RequestContext } from '../../src/worker/context.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const HTML = `<!doctype html><ul>${Array.from({ length: 400 }, (_, i) => `<li class="item">Item number ${i}</li>`).join('')}</ul>`;

describe('compress', () => {
  const handlers = new Map<string, Handler>();
  const middleware = compress({ types: DEFAULT_COMPRESSIBLE, minSize: 1024 });
  let server: Server;
  let port: number;

  before(async () => {
    server = createServer((req, res) => {
      const ctx = { req, res, method: req.method } as unknown as RequestContext;
      void middleware(ctx, () => handlers.get(req.url!)!(req, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function fetchRaw(path: string, handler: Handler, headers: Record<string, string> = { 'accept-encoding': 'gzip, deflate, br' }, method = 'GET') {
    handlers.set(path, handler);
    return new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  const decode = (headers: IncomingHttpHeaders, body: Buffer) =>
    headers['content-encoding'] === 'br' ? zlib.brotliDecompressSync(body) : headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(body) : body;

  it('compresses a Node listener response with br, the preferred coding', async () => {
    const res = await fetchRaw('/listener', (_req, res) => {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(HTML);
    });
    assert.equal(res.headers['content-encoding'], 'br');
    assert.equal(res.headers.vary, 'Accept-Encoding');
    assert.equal(res.headers['content-length'], undefined);
    assert.ok(res.body.length < HTML.length / 4);
    assert.equal(decode(res.headers, res.body).toString(), HTML);
  });

  it('uses gzip when the client prefers it or accepts only it', async () => {
    const handler: Handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(HTML) });
      res.end(HTML);
    };
    for (const [i, accept] of ['gzip', 'br;q=0.5, gzip', 'x-gzip', 'br;q=0, *'].entries()) {
      const res = await fetchRaw(`/gzip-${i}`, handler, { 'accept-encoding': accept });
      assert.equal(res.headers['content-encoding'], 'gzip', accept);
      assert.equal(decode(res.headers, res.body).toString(), HTML);
    }
  });

  it('leaves the body alone for clients that accept neither, but says it varies', async () => {
    for (const [i, headers] of ([{}, { 'accept-encoding': 'identity' }, { 'accept-encoding': 'br;q=0, gzip;q=0' }] as Record<string, string>[]).entries()) {
      const res = await fetchRaw(`/plain-${i}`, (_req, res) => {
        res.setHeader('content-type', 'text/html');
        res.end(HTML);
      }, headers);
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(res.headers.vary, 'Accept-Encoding');
      assert.equal(res.headers['content-length'], String(Buffer.byteLength(HTML)), 'the length Node would have sent is kept');
      assert.equal(res.body.toString(), HTML);
    }
  });

  it('does not compress small bodies, and keeps their Content-Length', async () => {
    const res = await fetchRaw('/small', (_req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end('tiny');
    });
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.headers['content-length'], '4');
    assert.equal(res.body.toString(), 'tiny');
  });

  it('does not compress images, encoded bodies, no-transform, 204, 304, 206 or HEAD', async () => {
    const big = Buffer.alloc(8192, 7);
    const cases: [string, Handler, string?][] = [
      ['/png', (_q, s) => s.writeHead(200, { 'content-type': 'image/png' }).end(big)],
      ['/untyped', (_q, s) => s.end(big)],
      ['/encoded', (_q, s) => s.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' }).end(zlib.gzipSync(HTML))],
      ['/no-transform', (_q, s) => s.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'public, no-transform' }).end(HTML)],
      ['/204', (_q, s) => s.writeHead(204, { 'content-type': 'text/html' }).end()],
      ['/304', (_q, s) => s.writeHead(304, { 'content-type': 'text/html', etag: '"x"' }).end()],
      ['/206', (_q, s) => s.writeHead(206, { 'content-type': 'text/html', 'content-range': `bytes 0-1999/${HTML.length}` }).end(HTML.slice(0, 2000))],
      ['/head', (_q, s) => s.writeHead(200, { 'content-type': 'text/html', 'content-length': HTML.length }).end(), 'HEAD'],
    ];
    for (const [path, handler, method] of cases) {
      const res = await fetchRaw(path, handler, undefined, method);
      assert.notEqual(res.headers['content-encoding'], 'br', path);
      assert.equal(res.headers.vary, undefined, path);
    }
  });

  it('weakens a strong ETag, drops Accept-Ranges, and appends to an existing Vary', async () => {
    const res = await fetchRaw('/etag', (_req, res) => {
      res.writeHead(200, [
        ['Content-Type', 'text/css'],
        ['ETag', '"abc"'],
        ['Accept-Ranges', 'bytes'],
        ['Vary', 'Cookie'],
      ] as never);
      res.end(HTML);
    });
    assert.equal(res.headers['content-encoding'], 'br');
    assert.equal(res.headers.etag, 'W/"abc"');
    assert.equal(res.headers['accept-ranges'], undefined);
    assert.equal(res.headers.vary, 'Cookie, Accept-Encoding');
    const weak = await fetchRaw('/weak', (_req, res) => res.writeHead(200, { 'content-type': 'text/css', etag: 'W/"v1"', vary: 'accept-encoding' }).end(HTML));
    assert.equal(weak.headers.etag, 'W/"v1"');
    assert.equal(weak.headers.vary, 'accept-encoding');
  });

  it('streams many writes with backpressure and ends with every byte', async () => {
    const line = `${'x'.repeat(60)} ${HTML.slice(0, 200)}\n`;
    const total = 20_000;
    const res = await fetchRaw('/stream', (_req, res) => {
      res.setHeader('content-type', 'text/plain');
      let i = 0;
      const pump = () => {
        while (i < total) {
          if (!res.write(`${i++} ${line}`)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end('done\n');
      };
      pump();
    }, { 'accept-encoding': 'gzip' });
    assert.equal(res.headers['content-encoding'], 'gzip');
    const text = decode(res.headers, res.body).toString();
    assert.ok(text.startsWith(`0 ${line}`));
    assert.ok(text.endsWith(`${total - 1} ${line}done\n`));
    assert.equal(text.split('\n').length, total + 2);
  });

  it('compresses a whole body larger than the synchronous limit through the stream', async () => {
    const large = HTML.repeat(Math.ceil((SYNC_LIMIT * 3) / HTML.length));
    const res = await fetchRaw('/large', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(large));
    assert.equal(res.headers['content-encoding'], 'br');
    assert.equal(decode(res.headers, res.body).toString(), large);
  });

  it('flushes each write of a stream so it arrives before the next one is written', { timeout: 10_000 }, async () => {
    let release: (() => void) | null = null;
    handlers.set('/events', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let n = 0;
      const send = () => {
        res.write(`data: event ${n++}\n\n`);
        if (n === 3) res.end();
        else release = send;
      };
      send();
    });
    const received: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/events', headers: { 'accept-encoding': 'br' } }, (res) => {
        assert.equal(res.headers['content-encoding'], 'br');
        const decoder = zlib.createBrotliDecompress();
        res.pipe(decoder);
        decoder.on('data', (chunk: Buffer) => {
          received.push(chunk.toString());
          // The server writes the next event only after this one was decoded here.
          const next = release;
          release = null;
          next?.();
        });
        decoder.on('end', resolve);
        decoder.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(received, ['data: event 0\n\n', 'data: event 1\n\n', 'data: event 2\n\n']);
  });

  it('survives a client that leaves in the middle of a compressed stream', async () => {
    let serverRes: ServerResponse | null = null;
    const closed = new Promise<void>((resolve) => {
      handlers.set('/leaver', (_req, res) => {
        serverRes = res;
        res.once('close', () => resolve());
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write(HTML);
      });
    });
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/leaver', headers: { 'accept-encoding': 'gzip' } }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.once('error', reject);
      req.end();
    });
    await closed;
    const res = serverRes as unknown as ServerResponse;
    // The app does not know yet: it keeps writing, then ends. Nothing may throw or crash the process.
    for (let i = 0; i < 5; i++) res.write(HTML);
    res.end(HTML);
    await new Promise((resolve) => setImmediate(resolve));
  });

  it('lets a refusal written before the handler (sendError) go out unchanged', async () => {
    const res = await fetchRaw('/error', (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 4 });
      res.end('oops');
    });
    assert.equal(res.status, 500);
    assert.equal(res.headers['content-length'], '4');
    assert.equal(res.body.toString(), 'oops');
  });
});

describe('compress: choosing', () => {
  it('picks br or gzip by q-value, br on a tie', () => {
    assert.equal(chooseCoding('gzip, deflate, br, zstd'), 'br');
    assert.equal(chooseCoding('gzip;q=1, br;q=0.9'), 'gzip');
    assert.equal(chooseCoding('*'), 'br');
    assert.equal(chooseCoding('deflate'), null);
    assert.equal(chooseCoding(undefined), null);
  });

  it('matches content types by prefix, ignoring parameters and case', () => {
    const isCompressible = typeMatcher(['text/', 'application/json', 'image/svg+xml']);
    assert.ok(isCompressible('text/html; charset=utf-8'));
    assert.ok(isCompressible('Application/JSON'));
    assert.ok(isCompressible('image/svg+xml'));
    assert.ok(!isCompressible('image/png'));
    assert.ok(!isCompressible('application/octet-stream'));
    assert.ok(!isCompressible(''));
  });
});
