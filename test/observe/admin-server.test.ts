import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { after, before, describe, it } from 'node:test';
import type { AdminPlan, ListenAddress } from '../../src/config/plan.ts';
import { AdminServer, type AdminEndpoints } from '../../src/observe/admin-server.ts';
import { createLogger } from '../../src/observe/log.ts';
import { request } from '../support/http.ts';
import { tempDir } from '../support/kirin.ts';

const TOKEN = 'a-test-token-that-is-long-enough-0123456789';

function tcp(port = 0, host = '127.0.0.1'): ListenAddress {
  return { kind: 'tcp', host, port, path: '', fd: -1, spec: `${host}:${port}` };
}

function capture() {
  const lines: { level: string; msg: string }[] = [];
  const logger = createLogger({ level: 'debug', role: 'master', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
  return { logger, lines };
}

const endpoints: AdminEndpoints = {
  health: () => ({ ok: true, reasons: [] }),
  readiness: () => ({ ok: false, reasons: ['1 of 2 workers of generation 1 are ready'] }),
  metrics: () => '# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n',
  status: () => ({ hello: 'dashboard' }),
};

async function started(plan: AdminPlan) {
  const { logger, lines } = capture();
  const server = new AdminServer(endpoints, logger);
  assert.equal(await server.start(plan), true);
  return { server, lines, url: server.url };
}

describe('admin listener without a token (loopback)', () => {
  let admin: Awaited<ReturnType<typeof started>>;
  before(async () => (admin = await started({ listen: tcp(), token: null })));
  after(() => admin.server.close());

  it('logs where it listens', () => {
    assert.match(admin.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(admin.lines.some((l) => l.msg.includes(admin.url)));
  });

  it('answers /healthz 200 and /readyz 503 with its reasons as JSON', async () => {
    const health = await request(`${admin.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), { ok: true });
    const ready = await request(`${admin.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(ready.headers['content-type'], 'application/json; charset=utf-8');
    assert.deepEqual(JSON.parse(ready.body), { ok: false, reasons: ['1 of 2 workers of generation 1 are ready'] });
    const head = await request(`${admin.url}/healthz`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('serves metrics, status and the dashboard with strict security headers', async () => {
    const metrics = await request(`${admin.url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.deepEqual(JSON.parse((await request(`${admin.url}/api/status`)).body), { hello: 'dashboard' });
    const page = await request(`${admin.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<table id="workers">/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.equal(page.headers['cache-control'], 'no-store');
  });

  it('serves the dashboard script as valid JavaScript (the compiled function itself)', async () => {
    const js = await request(`${admin.url}/dashboard.js`);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.doesNotThrow(() => new Script(js.body, { filename: 'dashboard.js' }));
    assert.match(js.body, /api\/status/);
  });

  it('refuses a foreign Host (DNS rebinding) but takes localhost and IP addresses', async () => {
    assert.equal((await request(`${admin.url}/api/status`, { headers: { host: 'evil.example:9180' } })).status, 403);
    assert.equal((await request(`${admin.url}/api/status`, { headers: { host: 'localhost:9180' } })).status, 200);
    assert.equal((await request(`${admin.url}/api/status`, { headers: { host: '[::1]:9180' } })).status, 200);
  });

  it('is read-only and says what exists', async () => {
    const post = await request(`${admin.url}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    const missing = await request(`${admin.url}/nope`);
    assert.equal(missing.status, 404);
    assert.match(missing.body, /\/healthz/);
  });
});

describe('admin listener with a token', () => {
  let admin: Awaited<ReturnType<typeof started>>;
  before(async () => (admin = await started({ listen: tcp(), token: TOKEN })));
  after(() => admin.server.close());

  it('wants Authorization: Bearer for /metrics and /api/status', async () => {
    const none = await request(`${admin.url}/metrics`);
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="kirin admin"');
    assert.equal((await request(`${admin.url}/metrics`, { headers: { authorization: 'Bearer wrong-token' } })).status, 401);
    assert.equal((await request(`${admin.url}/metrics`, { headers: { authorization: `Basic ${TOKEN}` } })).status, 401);
    assert.equal((await request(`${admin.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    assert.equal((await request(`${admin.url}/api/status`, { headers: { authorization: `bearer ${TOKEN}` } })).status, 200);
  });

  it('leaves /healthz and /readyz open for probes, and takes any Host', async () => {
    assert.equal((await request(`${admin.url}/healthz`, { headers: { host: 'admin.example.com' } })).status, 200);
    assert.equal((await request(`${admin.url}/readyz`)).status, 503);
  });

  it('shows a sign-in form to a browser, and a session cookie opens the dashboard', async () => {
    const form = await request(`${admin.url}/`);
    assert.equal(form.status, 401);
    assert.match(form.body, /<form method="post" action="login">/);
    const wrong = await request(`${admin.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=nope' });
    assert.equal(wrong.status, 401);
    assert.match(wrong.body, /not the one/);
    assert.ok(admin.lines.some((l) => l.msg.includes('wrong token')));
    const ok = await request(`${admin.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(TOKEN)}` });
    assert.equal(ok.status, 303);
    const cookie = String(ok.headers['set-cookie']);
    assert.match(cookie, /^kirin_admin=[\w-]+; Path=\/; HttpOnly; SameSite=Strict$/);
    assert.ok(!cookie.includes(TOKEN), 'the cookie is not the token');
    const session = cookie.split(';')[0]!;
    assert.equal((await request(`${admin.url}/`, { headers: { cookie: session } })).status, 200);
    assert.equal((await request(`${admin.url}/api/status`, { headers: { cookie: session } })).status, 200);
    assert.equal((await request(`${admin.url}/api/status`, { headers: { cookie: 'kirin_admin=forged' } })).status, 401);
  });

  it('follows a new token after a reload without moving', async () => {
    const url = admin.server.url;
    // The reloaded plan has the same admin.listen (port 0 here) and a new token.
    await admin.server.update({ listen: tcp(), token: `${TOKEN}-new` });
    assert.equal(admin.server.url, url);
    assert.equal((await request(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 401);
    assert.equal((await request(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}-new` } })).status, 200);
  });
});

describe('admin listener addresses', () => {
  it('warns and carries on when its port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { logger, lines } = capture();
      const server = new AdminServer(endpoints, logger);
      assert.equal(await server.start({ listen: tcp(port), token: null }), false);
      const warning = lines.find((l) => l.level === 'warn');
      assert.ok(warning);
      assert.match(warning.msg, new RegExp(`127\\.0\\.0\\.1:${port} is already in use.*serves its sites without`));
      assert.equal(server.url, '');
    } finally {
      blocker.close();
    }
  });

  it('listens on a unix socket only its user may open, replacing a stale socket file', async () => {
    const dir = tempDir();
    const path = join(dir, 'admin.sock');
    const address: ListenAddress = { kind: 'unix', host: '', port: 0, path, fd: -1, spec: `unix:${path}` };
    const first = new AdminServer(endpoints, capture().logger);
    assert.equal(await first.start({ listen: address, token: null }), true);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const second = new AdminServer(endpoints, capture().logger);
    assert.equal(await second.start({ listen: address, token: null }), false, 'a live socket is not taken over');
    const res = await request('http://localhost/healthz', { socketPath: path });
    assert.equal(res.status, 200);
    await first.close();
  });
});
