/**
 * The reload script goes into HTML responses however the handler writes them
 * (headers as an object, a frozen flat array, setHeader + end, compressed in
 * one piece or streamed), with the page's Content-Security-Policy letting it
 * run; never into other types, HEAD, 204 or 304, nor bodies in a coding it
 * cannot decode (said once). The event stream tells the generation and ends
 * when the worker is replaced. Over a real node:http server.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { BrowserReload, RELOAD_PATH } from '../../src/dev/browser-reload.ts';
import { request } from '../support/http.ts';

const HTML = '<!doctype html><p>hi</p>';
const GZIPPED = gzipSync(HTML);
const BROTLI = brotliCompressSync(HTML);
const META_PAGE = `<!doctype html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'nonce-abc'"><title>café</title></head><body><p>hi</p>`;
const FROZEN_HEAD = Object.freeze(['content-type', 'text/html; charset=utf-8', 'content-length', String(HTML.length)]);

const routes: Record<string, (res: ServerResponse) => void> = {
  '/object': (res) => {
    res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': HTML.length });
    res.end(HTML);
  },
  '/frozen-array': (res) => {
    res.writeHead(200, FROZEN_HEAD as unknown as string[]);
    res.end(HTML);
  },
  '/set-header': (res) => {
    res.setHeader('content-type', 'text/html');
    res.setHeader('content-length', HTML.length);
    res.end(HTML);
  },
  '/streamed': (res) => {
    res.setHeader('content-type', 'text/html');
    res.write('<p>one</p>');
    res.end('<p>two</p>');
  },
  '/text': (res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
    res.end('hi');
  },
  '/gzip': (res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip', 'content-length': GZIPPED.length });
    res.end(GZIPPED);
  },
  '/br-streamed': (res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'br' });
    res.write(BROTLI.subarray(0, 5));
    res.end(BROTLI.subarray(5));
  },
  '/unknown-coding': (res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'x-custom' });
    res.end('opaque');
  },
  '/csp': (res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'content-security-policy': "default-src 'none'; script-src 'nonce-abc'" });
    res.end(HTML);
  },
  '/meta-csp': (res) => {
    // The tag split across writes, the body streamed on after the head.
    res.setHeader('content-type', 'text/html');
    res.write(META_PAGE.slice(0, 30));
    res.write(META_PAGE.slice(30, 60));
    res.write(META_PAGE.slice(60));
    res.end('<p>more</p>');
  },
  '/meta-csp-gzip': (res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' });
    res.end(gzipSync(META_PAGE));
  },
  '/not-modified': (res) => {
    res.writeHead(304, { 'content-type': 'text/html' });
    res.end();
  },
};

describe('dev browser reload', () => {
  let server: Server;
  let base: string;
  let reload: BrowserReload;
  const warnings: string[] = [];

  before(async () => {
    reload = new BrowserReload(7, (message) => warnings.push(message));
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (reload.answer(req, res)) return;
      reload.injectInto(req, res);
      routes[req.url ?? '']!(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  for (const path of ['/object', '/frozen-array', '/set-header']) {
    it(`appends the script to HTML written with ${path.slice(1)}, with a length that fits`, async () => {
      const res = await request(`${base}${path}`);
      assert.equal(res.status, 200);
      assert.ok(res.body.startsWith(HTML));
      assert.match(res.body.slice(HTML.length), /^<script>.*const g="7";.*new EventSource\("\/_kirin\/dev\/reload"\).*<\/script>$/);
      assert.equal(res.headers['content-length'], undefined);
    });
  }

  it('leaves the frozen head it was given unchanged', () => {
    assert.deepEqual([...FROZEN_HEAD], ['content-type', 'text/html; charset=utf-8', 'content-length', String(HTML.length)]);
  });

  it('appends after a streamed body', async () => {
    assert.match((await request(`${base}/streamed`)).body, /^<p>one<\/p><p>two<\/p><script>/);
  });

  it('decodes a compressed body, appends the script and encodes it again in the same coding', async () => {
    const gzip = await request(`${base}/gzip`);
    assert.equal(gzip.headers['content-encoding'], 'gzip');
    assert.equal(gzip.headers['content-length'], undefined);
    assert.match(gunzipSync(gzip.buffer).toString(), /^<!doctype html><p>hi<\/p><script>.*<\/script>$/);
    const br = await request(`${base}/br-streamed`);
    assert.equal(br.headers['content-encoding'], 'br');
    assert.match(brotliDecompressSync(br.buffer).toString(), /^<!doctype html><p>hi<\/p><script>.*<\/script>$/);
  });

  it("adds the script's hash and 'self' for its stream to a Content-Security-Policy, and nothing else", async () => {
    const res = await request(`${base}/csp`);
    const script = /<script>(.*)<\/script>$/.exec(res.body)![1]!;
    const hash = createHash('sha256').update(script).digest('base64');
    assert.equal(res.headers['content-security-policy'], `default-src 'none'; script-src 'nonce-abc' 'sha256-${hash}'; connect-src 'self'`);
  });

  it("lets the script through a policy in the page's own meta tag too, plain or compressed, the rest of the page unchanged", async () => {
    const plain = await request(`${base}/meta-csp`);
    const script = /<script>(.*)<\/script>$/.exec(plain.body)![1]!;
    const hash = createHash('sha256').update(script).digest('base64');
    const allowed = META_PAGE.replace(`script-src 'nonce-abc'`, `script-src 'nonce-abc' 'sha256-${hash}'; connect-src 'self'`);
    assert.equal(plain.body, `${allowed}<p>more</p><script>${script}</script>`);
    const gzip = await request(`${base}/meta-csp-gzip`);
    assert.equal(gunzipSync(gzip.buffer).toString(), `${allowed}<script>${script}</script>`);
  });

  it('leaves a coding it cannot decode alone, and says so once', async () => {
    assert.equal((await request(`${base}/unknown-coding`)).body, 'opaque');
    await request(`${base}/unknown-coding`);
    assert.deepEqual(warnings, [warnings[0]]);
    assert.match(warnings[0]!, /no browser reload for HTML sent with Content-Encoding: x-custom/);
  });

  it('leaves other types, HEAD and 304 alone', async () => {
    assert.equal((await request(`${base}/text`)).body, 'hi');
    assert.equal((await request(`${base}/not-modified`)).status, 304);
    const head = await request(`${base}/object`, { method: 'HEAD' });
    assert.equal(head.headers['content-length'], String(HTML.length));
  });

  it('streams the generation and ends the streams when drained; a late stream is ended at once', async () => {
    const { request: httpRequest } = await import('node:http');
    const first = await new Promise<string>((resolve) => {
      const req = httpRequest(`${base}${RELOAD_PATH}`, { agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('\n\n')) reload.drain();
        });
        res.on('end', () => resolve(text));
      });
      req.end();
    });
    assert.match(first, /^retry: \d+\ndata: 7\n\n$/);
    const late = await request(`${base}${RELOAD_PATH}`);
    assert.equal(late.headers['content-type'], 'text/event-stream');
    assert.match(late.body, /data: 7/);
  });
});
