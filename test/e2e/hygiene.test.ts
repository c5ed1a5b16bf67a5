/**
 * Request hygiene before any route runs (ANCHORS.md hostile inputs): hosts no
 * site claims, malformed hosts, paths that try to sneak past a guard, forms of
 * request that must never be proxied, forwarding headers from untrusted peers.
 * After every probe the worker still serves.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rawRequest, request } from '../support/http.ts';
import { portOf, ROOT, startKirin, tempDir, writeConfig, type KirinProcess } from '../support/kirin.ts';

function configured(config: object): Promise<{ kirin: KirinProcess; port: number }> {
  const dir = tempDir();
  copyFileSync(join(ROOT, 'test/fixtures/apps/echo-request.ts'), join(dir, 'app.ts'));
  writeConfig(dir, config);
  return startKirin({ cwd: dir, args: ['serve'] }).then((kirin) => ({ kirin, port: portOf(kirin.url) }));
}

function get(port: number, target: string, host = 'good.test', extra = ''): Promise<{ status: number; raw: string; body: string }> {
  return rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`).then((r) => ({ ...r, body: r.raw.slice(r.raw.indexOf('\r\n\r\n') + 4) }));
}

describe('request hygiene', () => {
  let kirin: KirinProcess;
  let port: number;
  before(async () => {
    ({ kirin, port } = await configured({
      sites: {
        'good.test, *.good.test': {
          '/admin/': { app: './app.ts', allow: ['10.0.0.0/8'] },
          '/': { app: './app.ts' },
        },
      },
    }));
  });
  after(() => kirin.stop());

  async function stillServing(): Promise<void> {
    assert.equal((await get(port, '/')).status, 200);
  }

  it('serves the hosts of its sites, exact and wildcard', async () => {
    assert.equal((await get(port, '/', 'good.test')).status, 200);
    assert.equal((await get(port, '/', 'GOOD.test:8080')).status, 200);
    assert.equal((await get(port, '/', 'www.good.test')).status, 200);
  });

  it('answers 421 to a host no site claims — never a default site', async () => {
    for (const host of ['evil.test', 'a.b.good.test', 'good.test.evil.test', '127.0.0.1']) {
      const res = await get(port, '/', host);
      assert.equal(res.status, 421, host);
      assert.doesNotMatch(res.body, /"url"/, 'the app never ran');
    }
    await stillServing();
  });

  it('answers 400 to malformed hosts', async () => {
    for (const host of ['good.test:x@evil.test', 'good.test@evil.test', '..', 'good..test', 'good.test:99999', '[::1']) {
      assert.equal((await get(port, '/', host)).status, 400, host);
    }
    assert.equal((await rawRequest(port, 'GET / HTTP/1.1\r\nHost: good.test\r\nHost: evil.test\r\n\r\n')).status, 400, 'two Host headers');
    assert.equal((await rawRequest(port, 'GET / HTTP/1.0\r\n\r\n')).status, 400, 'no Host at all');
    await stillServing();
  });

  it('a guard on /admin/ cannot be walked around by spelling the path differently', async () => {
    const spellings = ['/admin/x', '/admin', '//admin/x', '/admin/./x', '/a/../admin/x', '/%61dmin/x', '/ADMIN/x', '/Admin/x', '/admin//x', '/./admin/x'];
    for (const path of spellings) {
      const res = await get(port, path);
      assert.equal(res.status, 403, path);
    }
    // Spellings that could mean another path are refused outright.
    for (const path of ['/admin%2Fx', '/admin%2fx', '/admin%5Cx', '/admin\\x', '/%2e%2e/admin/x', '/admin%00']) {
      assert.equal((await get(port, path)).status, 400, path);
    }
    await stillServing();
  });

  it('the app sees the normalized URL', async () => {
    const res = await get(port, '/a/./b/../c//d?q=%2F');
    assert.equal(JSON.parse(res.body).url, 'http://good.test/a/c/d?q=%2F');
  });

  it('refuses absolute-form targets and CONNECT', async () => {
    assert.equal((await get(port, 'http://169.254.169.254/latest/meta-data/')).status, 400);
    const connect = await rawRequest(port, 'CONNECT 169.254.169.254:80 HTTP/1.1\r\nHost: 169.254.169.254:80\r\n\r\n');
    assert.ok(connect.status === 405 || connect.status === 400, `CONNECT got ${connect.status}`);
    await stillServing();
  });

  it('drops forwarding headers from an untrusted peer and states its own', async () => {
    const res = await get(port, '/', 'good.test', 'X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.test\r\nForwarded: for=6.6.6.6\r\n');
    assert.deepEqual(JSON.parse(res.body), { url: 'http://good.test/', ip: '127.0.0.1', xff: '127.0.0.1', proto: 'http', host: 'good.test', forwarded: null });
  });
});

describe('behind a trusted proxy', () => {
  let kirin: KirinProcess;
  let port: number;
  before(async () => {
    ({ kirin, port } = await configured({
      trustedProxies: ['127.0.0.1/32'],
      sites: { 'good.test': { '/admin/': { app: './app.ts', allow: ['198.51.100.0/24'] }, '/': { app: './app.ts' } } },
    }));
  });
  after(() => kirin.stop());

  it('the rightmost untrusted address of X-Forwarded-For is the client; proto and host are believed', async () => {
    const res = await get(port, '/', 'internal.local', 'X-Forwarded-For: 6.6.6.6, 198.51.100.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: good.test\r\n');
    assert.deepEqual(JSON.parse(res.body), { url: 'https://good.test/', ip: '198.51.100.7', xff: '198.51.100.7', proto: 'https', host: 'good.test', forwarded: null });
  });

  it('allow-lists apply to the resolved client, canonicalized', async () => {
    assert.equal((await get(port, '/admin/', 'good.test', 'X-Forwarded-For: 198.51.100.7\r\n')).status, 200);
    assert.equal((await get(port, '/admin/', 'good.test', 'X-Forwarded-For: ::ffff:198.51.100.7\r\n')).status, 200);
    assert.equal((await get(port, '/admin/', 'good.test', 'X-Forwarded-For: 198.51.100.7, 203.0.113.1\r\n')).status, 403);
    assert.equal((await get(port, '/admin/', 'good.test')).status, 403, 'the proxy itself is not in the list');
  });
});
