/**
 * `compress` through a real Kirin: an Express app (a Node listener), a fetch
 * app, a server-sent event stream that must still arrive event by event, and
 * the responses that must not be compressed.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { request, type SimpleResponse } from '../support/http.ts';
import { ROOT, startKirin, tempDir, writeFiles, type KirinProcess } from '../support/kirin.ts';

const ALL = { 'accept-encoding': 'gzip, deflate, br, zstd' };

const PAGE = `<!doctype html><ul>${Array.from({ length: 300 }, (_, i) => `<li>row ${i}</li>`).join('')}</ul>`;
/** The apps read the page the test compares against. */
const READ_PAGE = `import { readFileSync } from 'node:fs';\nconst PAGE = readFileSync(new URL('./page.html', import.meta.url), 'utf8');\n`;

function decoded(res: SimpleResponse): string {
  const coding = res.headers['content-encoding'];
  if (coding === 'br') return zlib.brotliDecompressSync(res.buffer).toString();
  if (coding === 'gzip') return zlib.gunzipSync(res.buffer).toString();
  return res.body;
}

describe('compress end to end', () => {
  let kirin: KirinProcess;
  let upstream: Server;
  let sendUpstreamEvent: (() => void) | null = null;

  before(async () => {
    const dir = tempDir();
    // An upstream that does not compress: Kirin does it for the proxied route.
    upstream = createServer((req, res) => {
      if (req.url === '/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        let n = 0;
        sendUpstreamEvent = () => {
          res.write(`data: event ${n}\n\n`);
          if (++n === 3) res.end();
        };
        sendUpstreamEvent();
      } else if (req.url === '/page') res.writeHead(200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(PAGE) }).end(PAGE);
      else if (req.url === '/gzipped') res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' }).end(zlib.gzipSync(PAGE));
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    writeFiles(dir, {
      'page.html': PAGE,
      'express-app.mjs': `${READ_PAGE}import express from ${JSON.stringify(join(ROOT, 'node_modules/express/index.js'))};
        const app = express();
        app.get('/express/page', (req, res) => res.type('html').send(PAGE));
        app.get('/express/chunks', (req, res) => { res.type('text/plain'); for (let i = 0; i < 200; i++) res.write('line ' + i + '\\n'); res.end(); });
        app.get('/express/logo.png', (req, res) => res.type('png').send(Buffer.alloc(20000, 1)));
        app.get('/express/small', (req, res) => res.type('text').send('hi'));
        export default app;\n`,
      'fetch-app.ts': `${READ_PAGE}let pushEvent: ((n: number) => void) | null = null;
        let sent = 0;
        export default {
          fetch(request: Request) {
            const path = new URL(request.url).pathname;
            if (path === '/fetch/page') return new Response(PAGE, { headers: { 'content-type': 'text/html; charset=utf-8', etag: '"v1"' } });
            if (path === '/fetch/photo.jpg') return new Response(new Uint8Array(20000).fill(3), { headers: { 'content-type': 'image/jpeg' } });
            if (path === '/fetch/small.json') return Response.json({ ok: true });
            if (path === '/fetch/next') { pushEvent?.(++sent); return new Response('pushed ' + sent); }
            if (path === '/fetch/events') {
              sent = 0;
              const stream = new ReadableStream({
                start(controller) {
                  const encoder = new TextEncoder();
                  controller.enqueue(encoder.encode('data: event 0\\n\\n'));
                  pushEvent = (n) => {
                    controller.enqueue(encoder.encode('data: event ' + n + '\\n\\n'));
                    if (n === 2) controller.close();
                  };
                },
              });
              return new Response(stream, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
            }
            return new Response('not found', { status: 404 });
          },
        };\n`,
      'kirin.config.ts': `export default {
        sites: { '*': {
          '/express': { app: './express-app.mjs', compress: true },
          '/fetch': { app: './fetch-app.ts', compress: true },
          '/plain': { app: './fetch-app.ts' },
          '/proxied': { proxy: '${upstreamUrl}', stripPrefix: true, compress: true },
        } },
      };\n`,
    });
    // One worker: the SSE stream and the request that pushes its next event must meet in the same process.
    kirin = await startKirin({ cwd: dir, args: ['serve', '--workers', '1', '--bind', '127.0.0.1:0', '--state-dir', `${dir}/state`] });
  });
  after(async () => {
    await kirin?.stop();
    upstream?.close();
  });

  it('compresses an Express page with br', async () => {
    const res = await request(`${kirin.url}/express/page`, { headers: ALL });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'br');
    assert.match(String(res.headers.vary), /Accept-Encoding/);
    assert.equal(res.headers['content-length'], undefined);
    assert.match(String(res.headers.etag), /^W\//, 'the ETag is weak');
    assert.equal(decoded(res), PAGE);
    assert.ok(res.buffer.length < PAGE.length / 3);
  });

  it('compresses an Express response written in many pieces, with gzip when asked', async () => {
    const res = await request(`${kirin.url}/express/chunks`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(decoded(res), Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join(''));
  });

  it('compresses a fetch Response and weakens its ETag', async () => {
    const res = await request(`${kirin.url}/fetch/page`, { headers: ALL });
    assert.equal(res.headers['content-encoding'], 'br');
    assert.equal(res.headers.etag, 'W/"v1"');
    assert.equal(decoded(res), PAGE);
  });

  it('compresses a proxied response, and leaves one the upstream compressed alone', async () => {
    const res = await request(`${kirin.url}/proxied/page`, { headers: ALL });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'br');
    assert.equal(res.headers['content-length'], undefined);
    assert.equal(decoded(res), PAGE);
    const already = await request(`${kirin.url}/proxied/gzipped`, { headers: ALL });
    assert.equal(already.headers['content-encoding'], 'gzip');
    assert.equal(decoded(already), PAGE);
  });

  it('leaves images and small bodies alone', async () => {
    for (const path of ['/express/logo.png', '/fetch/photo.jpg', '/express/small', '/fetch/small.json']) {
      const res = await request(`${kirin.url}${path}`, { headers: ALL });
      assert.equal(res.status, 200, path);
      assert.equal(res.headers['content-encoding'], undefined, path);
      assert.equal(res.headers['content-length'], String(res.buffer.length), path);
    }
  });

  it('does not compress for clients that do not ask, nor on routes without compress', async () => {
    const unasked = await request(`${kirin.url}/fetch/page`);
    assert.equal(unasked.headers['content-encoding'], undefined);
    assert.equal(unasked.headers.vary, 'Accept-Encoding');
    assert.equal(unasked.body, PAGE);
    const plain = await request(`${kirin.url}/plain/page`, { headers: ALL });
    assert.equal(plain.status, 404);
    assert.equal(plain.headers['content-encoding'], undefined);
  });

  /** Reads an event stream through a brotli decoder; `next` makes the producer send one more event. */
  async function readEvents(path: string, next: () => void): Promise<string[]> {
    const events: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${kirin.url}${path}`, { headers: { 'accept-encoding': 'br' } }, (res) => {
        assert.equal(res.headers['content-encoding'], 'br');
        assert.equal(res.headers['content-type'], 'text/event-stream');
        const decoder = zlib.createBrotliDecompress();
        res.pipe(decoder);
        decoder.on('data', (chunk: Buffer) => {
          events.push(chunk.toString());
          // The producer sends the next event only when asked: a buffered stream would wait here forever.
          if (events.length < 3) next();
        });
        decoder.on('end', resolve);
        decoder.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    return events;
  }

  it('streams server-sent events from a fetch app compressed, each arriving before the next is sent', { timeout: 15_000 }, async () => {
    const events = await readEvents('/fetch/events', () => void request(`${kirin.url}/fetch/next`, { agent: false }));
    assert.deepEqual(events, ['data: event 0\n\n', 'data: event 1\n\n', 'data: event 2\n\n']);
  });

  it('streams proxied server-sent events compressed, event by event', { timeout: 15_000 }, async () => {
    const events = await readEvents('/proxied/events', () => sendUpstreamEvent!());
    assert.deepEqual(events, ['data: event 0\n\n', 'data: event 1\n\n', 'data: event 2\n\n']);
  });
});
