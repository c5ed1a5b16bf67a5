/**
 * The `static` handler through a real Kirin over loopback: what a browser, a
 * CDN or a download manager relies on.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { rawRequest, request } from '../support/http.ts';
import { portOf, waitFor } from '../support/kirin.ts';
import { CSS, HELLO, startStaticSite, type StaticSite } from './static-site.ts';

const DEFAULT_CACHE_CONTROL = 'public, max-age=0, must-revalidate';

describe('static files', () => {
  let site: StaticSite;
  let url: string;
  before(async () => {
    site = await startStaticSite();
    url = site.kirin.url;
  });
  after(() => site?.kirin.stop());

  describe('200', () => {
    it('serves a text file with its type, UTF-8 charset, length and validators', async () => {
      const res = await request(`${url}/hello.txt`);
      assert.equal(res.status, 200);
      assert.equal(res.body, HELLO);
      assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(res.headers['content-length'], String(Buffer.byteLength(HELLO)));
      assert.match(res.headers.etag ?? '', /^"[^"]+"$/);
      assert.ok(Date.parse(res.headers['last-modified'] ?? '') > 0);
      assert.equal(res.headers['accept-ranges'], 'bytes');
      assert.equal(res.headers['cache-control'], DEFAULT_CACHE_CONTROL);
      assert.equal(res.headers.vary, undefined, 'no Vary without sidecars');
    });

    it('gives binary and JSON files their types', async () => {
      assert.equal((await request(`${url}/logo.png`)).headers['content-type'], 'image/png');
      assert.equal((await request(`${url}/data.json`)).headers['content-type'], 'application/json; charset=utf-8');
    });

    it('answers HEAD with the head only', async () => {
      const res = await request(`${url}/hello.txt`, { method: 'HEAD' });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-length'], String(Buffer.byteLength(HELLO)));
      assert.equal(res.buffer.length, 0);
      const raw = await rawRequest(portOf(url), 'HEAD /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      assert.ok(raw.raw.endsWith('\r\n\r\n'), 'nothing after the head');
    });

    it('refuses other methods with 405 and Allow', async () => {
      for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
        const res = await request(`${url}/hello.txt`, { method, body: method === 'POST' ? 'x' : undefined });
        assert.equal(res.status, 405, method);
        assert.equal(res.headers.allow, 'GET, HEAD');
      }
    });
  });

  describe('conditional requests', () => {
    it('answers a matching If-None-Match with 304 and no body', async () => {
      const first = await request(`${url}/hello.txt`);
      const res = await request(`${url}/hello.txt`, { headers: { 'if-none-match': first.headers.etag! } });
      assert.equal(res.status, 304);
      assert.equal(res.buffer.length, 0);
      assert.equal(res.headers.etag, first.headers.etag);
      assert.equal(res.headers['cache-control'], DEFAULT_CACHE_CONTROL);
      const list = await request(`${url}/hello.txt`, { headers: { 'if-none-match': `"other", W/${first.headers.etag}` } });
      assert.equal(list.status, 304, 'weak comparison in a list');
    });

    it('answers If-Modified-Since at or after Last-Modified with 304', async () => {
      const first = await request(`${url}/hello.txt`);
      const lastModified = first.headers['last-modified']!;
      assert.equal((await request(`${url}/hello.txt`, { headers: { 'if-modified-since': lastModified } })).status, 304);
      const later = new Date(Date.parse(lastModified) + 3600_000).toUTCString();
      assert.equal((await request(`${url}/hello.txt`, { headers: { 'if-modified-since': later } })).status, 304);
      const earlier = new Date(Date.parse(lastModified) - 3600_000).toUTCString();
      assert.equal((await request(`${url}/hello.txt`, { headers: { 'if-modified-since': earlier } })).status, 200);
    });

    it('lets If-None-Match win over If-Modified-Since', async () => {
      const first = await request(`${url}/hello.txt`);
      const res = await request(`${url}/hello.txt`, { headers: { 'if-none-match': '"stale"', 'if-modified-since': first.headers['last-modified']! } });
      assert.equal(res.status, 200);
      assert.equal(res.body, HELLO);
    });

    it('answers a failed If-Match with 412', async () => {
      assert.equal((await request(`${url}/hello.txt`, { headers: { 'if-match': '"other"' } })).status, 412);
    });
  });

  describe('ranges', () => {
    it('answers one range with 206 and Content-Range', async () => {
      const res = await request(`${url}/hello.txt`, { headers: { range: 'bytes=7-12' } });
      assert.equal(res.status, 206);
      assert.equal(res.body, HELLO.slice(7, 13));
      assert.equal(res.headers['content-range'], `bytes 7-12/${HELLO.length}`);
      assert.equal(res.headers['content-length'], '6');
      const suffix = await request(`${url}/hello.txt`, { headers: { range: 'bytes=-5' } });
      assert.equal(suffix.status, 206);
      assert.equal(suffix.body, HELLO.slice(-5));
    });

    it('answers an unsatisfiable range with 416 and bytes */size', async () => {
      const res = await request(`${url}/hello.txt`, { headers: { range: `bytes=${HELLO.length}-` } });
      assert.equal(res.status, 416);
      assert.equal(res.headers['content-range'], `bytes */${HELLO.length}`);
    });

    it('sends the whole file for several ranges or a garbage Range', async () => {
      for (const range of ['bytes=0-1,5-6', 'bytes=garbage', 'lines=1-2', 'bytes=9-3']) {
        const res = await request(`${url}/hello.txt`, { headers: { range } });
        assert.equal(res.status, 200, range);
        assert.equal(res.body, HELLO);
      }
    });

    it('honours If-Range: a matching tag gets the range, a stale one the whole file', async () => {
      const { headers } = await request(`${url}/hello.txt`);
      const match = await request(`${url}/hello.txt`, { headers: { range: 'bytes=0-4', 'if-range': headers.etag! } });
      assert.equal(match.status, 206);
      const stale = await request(`${url}/hello.txt`, { headers: { range: 'bytes=0-4', 'if-range': '"old-version"' } });
      assert.equal(stale.status, 200);
      assert.equal(stale.body, HELLO);
      const date = await request(`${url}/hello.txt`, { headers: { range: 'bytes=0-4', 'if-range': headers['last-modified']! } });
      assert.equal(date.status, 206);
    });

    it('ignores Range on HEAD', async () => {
      const res = await request(`${url}/hello.txt`, { method: 'HEAD', headers: { range: 'bytes=0-4' } });
      assert.equal(res.status, 200);
    });
  });

  describe('precompressed sidecars', () => {
    it('sends .br to a client that takes brotli, with Vary and the sidecar length', async () => {
      const res = await request(`${url}/style.css`, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], 'br');
      assert.equal(res.headers.vary, 'accept-encoding');
      assert.equal(res.headers['content-type'], 'text/css; charset=utf-8');
      assert.equal(res.headers['content-length'], String(res.buffer.length));
      assert.equal(brotliDecompressSync(res.buffer).toString(), CSS);
    });

    it('sends .gz when brotli is not taken or weighs less', async () => {
      for (const accept of ['gzip', 'br;q=0.5, gzip', 'br;q=0, gzip;q=0.8']) {
        const res = await request(`${url}/style.css`, { headers: { 'accept-encoding': accept } });
        assert.equal(res.headers['content-encoding'], 'gzip', accept);
        assert.equal(gunzipSync(res.buffer).toString(), CSS);
      }
    });

    it('sends the plain file, still with Vary, to a client without Accept-Encoding', async () => {
      for (const headers of [{}, { 'accept-encoding': 'identity' }, { 'accept-encoding': 'gzip;q=0, br;q=0' }] as Record<string, string>[]) {
        const res = await request(`${url}/style.css`, { headers });
        assert.equal(res.headers['content-encoding'], undefined);
        assert.equal(res.headers.vary, 'accept-encoding');
        assert.equal(res.body, CSS);
      }
    });

    it('gives each representation its own ETag, and 304s per representation', async () => {
      const br = await request(`${url}/style.css`, { headers: { 'accept-encoding': 'br' } });
      const plain = await request(`${url}/style.css`);
      assert.notEqual(br.headers.etag, plain.headers.etag);
      const again = await request(`${url}/style.css`, { headers: { 'accept-encoding': 'br', 'if-none-match': br.headers.etag! } });
      assert.equal(again.status, 304);
      assert.equal(again.headers.vary, 'accept-encoding');
    });

    it('answers HEAD with the sidecar length', async () => {
      const get = await request(`${url}/style.css`, { headers: { 'accept-encoding': 'br' } });
      const head = await request(`${url}/style.css`, { method: 'HEAD', headers: { 'accept-encoding': 'br' } });
      assert.equal(head.headers['content-length'], get.headers['content-length']);
      assert.equal(head.buffer.length, 0);
    });
  });

  describe('caching policy', () => {
    it('gives hashed names on an immutable route a year, and other names the default', async () => {
      const hashed = await request(`${url}/assets/app.3f9a2c1b.js`);
      assert.equal(hashed.status, 200);
      assert.equal(hashed.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(hashed.headers['content-type'], 'text/javascript; charset=utf-8');
      const plain = await request(`${url}/assets/app.js`);
      assert.equal(plain.headers['cache-control'], DEFAULT_CACHE_CONTROL);
    });

    it('serves a file changed on disk fresh', async () => {
      assert.equal((await request(`${url}/mutable.txt`)).body, 'version one\n');
      writeFileSync(join(site.root, 'mutable.txt'), 'version two\n'); // same length: only the content and mtime differ
      await waitFor(async () => (await request(`${url}/mutable.txt`)).body === 'version two\n', { what: 'the new content', timeoutMs: 5000 });
    });
  });

  describe('folders', () => {
    it('serves index.html for / and for a folder with its slash', async () => {
      assert.equal((await request(`${url}/`)).body, '<h1>home</h1>\n');
      const docs = await request(`${url}/docs/`);
      assert.equal(docs.body, '<h1>docs</h1>\n');
      assert.equal(docs.headers['content-type'], 'text/html; charset=utf-8');
    });

    it('redirects a folder without its slash to path/, keeping the query', async () => {
      const res = await request(`${url}/docs?page=2&q=a%20b`);
      assert.equal(res.status, 308);
      assert.equal(res.headers.location, '/docs/?page=2&q=a%20b');
    });

    it('never redirects off-site, whatever the path looks like', async () => {
      for (const [target, location] of [
        ['//evil.com', '/evil.com/'],
        ['///evil.com', '/evil.com/'],
        ['//evil.com/%2e%2e/docs', '/docs/'],
        ['/./evil.com', '/evil.com/'],
        ['/docs/..//evil.com', '/evil.com/'],
      ] as const) {
        const res = await rawRequest(portOf(url), `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
        assert.equal(res.status, 308, target);
        const got = /\r\nlocation: ([^\r]*)/i.exec(res.raw)?.[1];
        assert.equal(got, location, target);
      }
      const res = await rawRequest(portOf(url), 'GET //evil.com/%2e%2e HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      assert.equal(res.status, 200);
      assert.doesNotMatch(res.raw, /\r\nlocation:/i);
    });

    it('never lists a folder without an index', async () => {
      assert.equal((await request(`${url}/noindex/`)).status, 404);
      assert.equal((await request(`${url}/noindex`)).status, 404);
      assert.equal((await request(`${url}/noindex/file.txt`)).status, 200);
    });
  });

  describe('single-page app', () => {
    it('answers app routes with the SPA file', async () => {
      for (const path of ['/app/', '/app/users/42', '/app/settings/profile']) {
        const res = await request(`${url}${path}`);
        assert.equal(res.status, 200, path);
        assert.equal(res.body, '<div id="spa"></div>\n');
        assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      }
    });

    it('serves real files and 404s missing ones that look like files', async () => {
      assert.equal((await request(`${url}/app/assets/real.js`)).body, 'console.log("spa");\n');
      assert.equal((await request(`${url}/app/assets/missing.js`)).status, 404);
      assert.equal((await request(`${url}/app/favicon.ico`)).status, 404);
      assert.equal((await request(`${url}/app/.env`)).status, 404);
    });
  });

  describe('security', () => {
    it('hides dotfiles and dot-folders, but serves .well-known', async () => {
      for (const path of ['/.env', '/.git/config', '/.git/', '/.git', '/%2eenv', '/docs/.hidden']) {
        const res = await request(`${url}${path}`);
        assert.equal(res.status, 404, path);
        assert.doesNotMatch(res.body, /TOP-SECRET/);
      }
      assert.equal((await request(`${url}/.well-known/security.txt`)).status, 200);
    });

    it('hides symlinks that lead out of the root, into the sibling root-secret/ too', async () => {
      for (const path of ['/escape.txt', '/escape-dir/secret.txt', '/escape-dir/']) {
        const res = await request(`${url}${path}`);
        assert.equal(res.status, 404, path);
        assert.doesNotMatch(res.body, /TOP-SECRET/);
      }
    });
  });

  describe('large files', () => {
    it('streams a 5 MiB file intact', async () => {
      const res = await request(`${url}/big.bin`);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-length'], String(site.big.length));
      assert.equal(res.headers['content-type'], 'application/octet-stream');
      assert.equal(createHash('sha256').update(res.buffer).digest('hex'), createHash('sha256').update(site.big).digest('hex'));
    });

    it('streams a range from the middle of it', async () => {
      // An odd start and a length of several read chunks (256 KiB): every read lands at the right offset.
      const start = 3 * 1024 * 1024 + 17;
      const end = start + 600_000;
      const res = await request(`${url}/big.bin`, { headers: { range: `bytes=${start}-${end}` } });
      assert.equal(res.status, 206);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${site.big.length}`);
      assert.ok(res.buffer.equals(site.big.subarray(start, end + 1)));
    });
  });
});
