/**
 * Must show 1 of the edge issue: examples/multi-site — the config exactly as
 * the issue writes it — with a real Django site under gunicorn on a {socket}
 * service, a real Node API pair on 127.0.0.1:9001/9002 (round_robin +
 * health), and a real app for the blog. Each site answers as it should;
 * /admin/ refuses an address outside its allow-list.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http.ts';
import { linkKirin, ROOT, startKirin, tempDir, writeConfig, type KirinProcess } from '../support/kirin.ts';

const EXAMPLE = join(ROOT, 'examples', 'multi-site');

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

function startApi(dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(dir, 'api-upstream.ts'), String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      if (text.includes(`api upstream on http://127.0.0.1:${port}`)) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`the API upstream on ${port} exited (${code})`)));
  });
}

describe('examples/multi-site: the issue’s config, as written', () => {
  let dir: string;
  let kirin: KirinProcess;
  const apis = new Map<number, ChildProcess>();

  before(async () => {
    for (const port of [9001, 9002]) assert.ok(await portFree(port), `the example's API upstreams need 127.0.0.1:${port}, which is in use`);
    dir = tempDir('kirin-multi-site-');
    cpSync(EXAMPLE, dir, { recursive: true });
    copyFileSync(join(dir, '.env.example'), join(dir, '.env'));
    linkKirin(dir);
    for (const port of [9001, 9002]) apis.set(port, await startApi(dir, port));
    kirin = await startKirin({
      cwd: dir,
      // The config listens on 127.0.0.1:8080; a test takes any free port instead (flags win over the file).
      args: ['serve', '--bind', '127.0.0.1:0', '--state-dir', join(dir, 'state')],
      env: { PYTHONDONTWRITEBYTECODE: '1' },
      timeoutMs: 60_000,
    });
  });

  after(async () => {
    await kirin?.stop();
    for (const child of apis.values()) child.kill();
  });

  const get = (host: string, path = '/', headers: Record<string, string> = {}) => request(`${kirin.url}${path}`, { headers: { host, ...headers } });

  it('uses the config file unchanged', () => {
    assert.equal(readFileSync(join(dir, 'kirin.config.ts'), 'utf8'), readFileSync(join(EXAMPLE, 'kirin.config.ts'), 'utf8'));
    assert.match(readFileSync(join(dir, 'kirin.config.ts'), 'utf8'), /command: 'gunicorn mysite\.wsgi --bind unix:\{socket\} --workers 2', cwd: '\.\/mysite'/);
  });

  it('serves the blog app on both of its names', async () => {
    for (const host of ['blog.example.test', 'www.blog.example.test']) {
      const res = await get(host, '/posts/1');
      assert.equal(res.status, 200);
      assert.match(res.body, new RegExp(`<h1>Blog</h1><p>${host.replace(/\./g, '\\.')}/posts/1</p>`));
    }
  });

  it("serves the blog's hashed static files with a year of caching", async () => {
    const res = await get('blog.example.test', '/static/blog.3f2a1c9b.css');
    assert.equal(res.status, 200);
    assert.equal(res.body, '.blog { color: #234; }\n');
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
  });

  it('lets an allowed address into /admin/ and refuses one outside the allow-list with 403', async () => {
    const allowed = await get('blog.example.test', '/admin/');
    assert.equal(allowed.status, 200);
    assert.equal(allowed.body, 'blog admin, hello 127.0.0.1\n');
    // 127.0.0.1 is a trusted proxy in this config: the client it vouches for is outside the allow-list.
    const outside = await get('blog.example.test', '/admin/', { 'x-forwarded-for': '203.0.113.9' });
    assert.equal(outside.status, 403);
    const home = await get('blog.example.test', '/', { 'x-forwarded-for': '203.0.113.9' });
    assert.equal(home.status, 200, 'the rest of the blog is open to everyone');
  });

  it('proxies the shop to Django under gunicorn on a unix socket, with the forwarding headers Django trusts', async () => {
    const res = await get('shop.example.test', '/');
    assert.equal(res.status, 200);
    assert.equal(res.headers.server, 'gunicorn');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.deepEqual(JSON.parse(res.body), { site: 'shop', framework: 'django', host: 'shop.example.test', secure: false, client: '127.0.0.1' });
    assert.deepEqual(JSON.parse((await get('shop.example.test', '/products/red-shoes/')).body), { product: 'red-shoes' });
    assert.equal((await get('shop.example.test', '/nope/')).status, 404);
    // Behind a trusted proxy that ended TLS, Django sees the request as secure.
    const viaTls = JSON.parse((await get('shop.example.test', '/', { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' })).body) as { secure: boolean; client: string };
    assert.deepEqual(viaTls, { site: 'shop', framework: 'django', host: 'shop.example.test', secure: true, client: '203.0.113.9' });
  });

  it("serves the shop's collected static files itself", async () => {
    const res = await get('shop.example.test', '/static/shop.css');
    assert.equal(res.status, 200);
    assert.equal(res.body, '.shop { color: #432; }\n');
  });

  it("logs gunicorn's output under the service's name", async () => {
    await kirin.waitForLine((l) => l.role === 'service:django' && typeof l.msg === 'string' && l.msg.includes('Listening at: unix:'), 5_000, "gunicorn's start line");
  });

  it('spreads the API over both Node upstreams, and keeps answering when one dies', async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const res = await get('api.example.test', '/v1/items');
      assert.equal(res.status, 200);
      const body = JSON.parse(res.body) as { api: number; path: string; client: string };
      assert.equal(body.path, '/v1/items');
      assert.equal(body.client, '127.0.0.1');
      seen.add(body.api);
    }
    assert.deepEqual([...seen].sort(), [9001, 9002]);
    const dying = apis.get(9002)!;
    const gone = new Promise((resolve) => dying.once('exit', resolve));
    dying.kill();
    await gone;
    // The default health check runs every 5 s; failed connects are retried on 9001 meanwhile.
    for (let i = 0; i < 6; i++) {
      const res = await get('api.example.test', '/');
      assert.equal(res.status, 200);
      assert.equal((JSON.parse(res.body) as { api: number }).api, 9001);
    }
    await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.includes('upstream http://127.0.0.1:9002 failed its health check'), 15_000, 'the health check to take 9002 out');
  });

  it('answers 421 for a host no site claims', async () => {
    assert.equal((await get('evil.example.test')).status, 421);
  });
});

describe('allow-lists, from loopback', () => {
  let kirin: KirinProcess;
  before(async () => {
    const dir = tempDir('kirin-allow-');
    copyFileSync(join(EXAMPLE, 'app.ts'), join(dir, 'app.ts'));
    writeConfig(dir, {
      sites: {
        'blog.example.test': {
          '/admin/': { app: './app.ts', allow: ['10.0.0.0/8'] },
          '/staff/': { app: './app.ts', allow: ['10.0.0.0/8', '127.0.0.1'] },
          '/': { app: './app.ts' },
        },
      },
    });
    kirin = await startKirin({ cwd: dir, args: ['serve'] });
  });
  after(() => kirin?.stop());

  it('refuses 127.0.0.1 where only 10.0.0.0/8 may enter, and lets it in where it is listed', async () => {
    const refused = await request(`${kirin.url}/admin/`, { headers: { host: 'blog.example.test' } });
    assert.equal(refused.status, 403);
    const listed = await request(`${kirin.url}/staff/`, { headers: { host: 'blog.example.test' } });
    assert.equal(listed.status, 200);
  });
});
