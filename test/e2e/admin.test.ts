/**
 * The admin listener of a real Kirin: health and readiness, /metrics read with a
 * real Prometheus parser after real requests, a worker killed, a reload; the
 * token; a busy admin port that must not take the site down.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { apiStatus, metric, scrape, startWithAdmin, type AdminKirin } from '../support/admin.ts';
import { request } from '../support/http.ts';
import { startKirin, tempDir, waitFor, writeFiles, type KirinProcess } from '../support/kirin.ts';
import { valueOf } from '../support/prometheus.ts';

const APP = `export default {
  async fetch(request: Request) {
    const path = new URL(request.url).pathname;
    if (path === '/boom') throw new Error('kaboom from the app');
    if (path === '/hold') {
      await new Promise((resolve) => setTimeout(resolve, 30_000));
      return new Response('late');
    }
    if (path === '/missing') return new Response('no such page', { status: 404 });
    return new Response('ok ' + process.pid);
  },
};
`;

interface Status {
  generation?: number;
  master: { generation: number };
  workers: { pid: number; state: string; generation: number }[];
  errors: { kind: string; title: string; detail: string; count: number }[];
}

describe('admin listener: health, readiness and metrics of a running Kirin', () => {
  let k: AdminKirin;
  before(async () => {
    const dir = tempDir();
    writeFiles(dir, {
      'app.ts': APP,
      'kirin.config.ts': `export default {
        admin: { listen: '127.0.0.1:0' },
        sites: { '*': { '/': { app: './app.ts' }, '/about': { respond: 'about us' } } },
      };\n`,
    });
    k = await startWithAdmin(dir, 2);
  });
  after(() => k?.kirin.stop());

  it('answers /healthz and /readyz with 200 once the workers serve', async () => {
    const health = await request(`${k.admin}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), { ok: true });
    const ready = await waitFor(async () => {
      const res = await request(`${k.admin}/readyz`);
      return res.status === 200 ? res : null;
    }, { what: '/readyz 200' });
    assert.deepEqual(JSON.parse(ready.body), { ok: true });
  });

  it('counts requests by site, route and status class, with their latency, across both workers', async () => {
    const sends: [string, number][] = [];
    for (let i = 0; i < 5; i++) sends.push(['/', 200]);
    sends.push(['/missing', 404], ['/missing', 404], ['/boom', 500], ['/about', 200], ['/about', 200], ['/about', 200]);
    for (const [path, status] of sends) assert.equal((await request(`${k.kirin.url}${path}`, { agent: false })).status, status);

    // The counts come with the workers' next heartbeats (every second).
    const m = await waitFor(async () => {
      const families = await scrape(k.admin);
      const count = Number(families.get('kirin_http_request_duration_seconds')!.metrics[0]!.count);
      return count >= sends.length ? families : null;
    }, { what: 'all requests on /metrics' });
    assert.equal(valueOf(m, 'kirin_http_requests_total', { site: '*', route: '/', status_class: '2xx' }), 5);
    assert.equal(valueOf(m, 'kirin_http_requests_total', { site: '*', route: '/', status_class: '4xx' }), 2);
    assert.equal(valueOf(m, 'kirin_http_requests_total', { site: '*', route: '/', status_class: '5xx' }), 1);
    assert.equal(valueOf(m, 'kirin_http_requests_total', { site: '*', route: '/about', status_class: '2xx' }), 3);
    const latency = m.get('kirin_http_request_duration_seconds')!.metrics[0]!;
    assert.equal(Number(latency.count), sends.length, 'the admin listener\'s own requests are not counted');
    assert.equal(Number(latency.buckets!['+Inf']), sends.length);
    assert.ok(Number(latency.sum) > 0);
    assert.equal(valueOf(m, 'kirin_workers', { state: 'ready' }), 2);
  });

  it('shows a request in flight, from the heartbeats', async () => {
    const socket = connect(Number(new URL(k.kirin.url).port), '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET /hold HTTP/1.1\r\nHost: a.test\r\n\r\n');
    await waitFor(async () => (await metric(k.admin, 'kirin_http_requests_in_flight')) === 1, { what: 'one request in flight' });
    socket.destroy();
    await waitFor(async () => (await metric(k.admin, 'kirin_http_requests_in_flight')) === 0, { what: 'no request in flight' });
  });

  it('reports each worker\'s memory, and a killed worker as a crash restart', async () => {
    const status = await apiStatus<Status>(k.admin);
    const pids = status.workers.filter((w) => w.state === 'ready').map((w) => w.pid);
    assert.equal(pids.length, 2);
    let m = await scrape(k.admin);
    for (const pid of pids) assert.ok(valueOf(m, 'kirin_worker_resident_memory_bytes', { pid: String(pid) })! > 10_000_000, `worker ${pid} RSS`);
    assert.equal(valueOf(m, 'kirin_worker_restarts_total', { reason: 'crash' }), 0);

    process.kill(pids[0]!, 'SIGKILL');
    m = await waitFor(async () => {
      const families = await scrape(k.admin);
      const rss = families.get('kirin_worker_resident_memory_bytes')!.metrics;
      const fresh = rss.find((s) => !pids.includes(Number(s.labels!.pid)) && Number(s.value) > 0);
      return valueOf(families, 'kirin_worker_restarts_total', { reason: 'crash' }) === 1 && fresh ? families : null;
    }, { what: 'the crash counted and the new worker reporting' });
    assert.equal(valueOf(m, 'kirin_worker_resident_memory_bytes', { pid: String(pids[0]) }), undefined, 'the dead worker is gone');
    assert.equal(valueOf(m, 'kirin_worker_restarts_total', { reason: 'watchdog' }), 0);
    const after = await apiStatus<Status>(k.admin);
    const crash = after.errors.find((e) => e.kind === 'worker-crash');
    assert.ok(crash, 'the crash is among the last errors');
    assert.match(crash.title, new RegExp(`pid ${pids[0]}\\) died, signal SIGKILL`));
  });

  it('counts a reload, and keeps counting requests across it', async () => {
    k.kirin.signal('SIGHUP');
    const m = await waitFor(async () => {
      const families = await scrape(k.admin);
      return valueOf(families, 'kirin_reloads_total', { result: 'ok' }) === 1 && valueOf(families, 'kirin_generation') === 2 ? families : null;
    }, { timeoutMs: 20_000, what: 'a successful reload on /metrics' });
    assert.equal(valueOf(m, 'kirin_reloads_total', { result: 'failed' }), 0);
    assert.equal(valueOf(m, 'kirin_http_requests_total', { site: '*', route: '/', status_class: '2xx' }), 5, 'counters do not start over');
    assert.equal((await request(`${k.kirin.url}/`, { agent: false })).status, 200);
    await waitFor(async () => (await metric(k.admin, 'kirin_http_requests_total', { site: '*', route: '/', status_class: '2xx' })) === 6, { what: 'the new generation counted' });
  });

  it('lists the app error with its stack and request for the dashboard', async () => {
    const status = await apiStatus<Status>(k.admin);
    const error = status.errors.find((e) => e.kind === 'app-error');
    assert.ok(error);
    assert.equal(error.title, 'GET /boom → Error: kaboom from the app');
    assert.match(error.detail, /Error: kaboom from the app\n\s+at /);
    assert.match(error.detail, /Request: GET http:\/\/127\.0\.0\.1:\d+\/boom/);
  });
});

describe('admin listener with a token', () => {
  const TOKEN = 'e2e-admin-token-0123456789abcdef';
  let k: AdminKirin;
  before(async () => {
    const dir = tempDir();
    writeFiles(dir, {
      'app.ts': APP,
      'kirin.config.ts': `export default { admin: { listen: '127.0.0.1:0', token: '${TOKEN}' }, sites: { '*': { '/': { app: './app.ts' } } } };\n`,
    });
    k = await startWithAdmin(dir, 1);
  });
  after(() => k?.kirin.stop());

  it('wants the bearer token for /metrics and /api/status, not for the probes', async () => {
    assert.equal((await request(`${k.admin}/metrics`)).status, 401);
    assert.equal((await request(`${k.admin}/api/status`)).status, 401);
    assert.equal((await request(`${k.admin}/`)).status, 401);
    const m = await scrape(k.admin, { authorization: `Bearer ${TOKEN}` });
    assert.equal(valueOf(m, 'kirin_workers', { state: 'ready' }), 1);
    assert.equal((await request(`${k.admin}/healthz`)).status, 200);
  });
});

describe('admin listener on a busy port', () => {
  let blocker: Server;
  let kirin: KirinProcess;
  before(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const dir = tempDir();
    writeFiles(dir, {
      'app.ts': APP,
      'kirin.config.ts': `export default { admin: { listen: '127.0.0.1:${port}' }, sites: { '*': { '/': { app: './app.ts' } } } };\n`,
    });
    kirin = await startKirin({ cwd: dir, args: ['serve', '--workers', '1', '--bind', '127.0.0.1:0', '--state-dir', `${dir}/state`] });
  });
  after(async () => {
    await kirin?.stop();
    blocker?.close();
  });

  it('warns, and the site keeps serving', async () => {
    const warning = await kirin.waitForLine((l) => l.level === 'warn' && String(l.msg).includes('admin listener'), 10_000, 'the admin warning');
    assert.match(String(warning.msg), /is already in use.*serves its sites without health checks, metrics and dashboard/);
    const res = await request(`${kirin.url}/`);
    assert.equal(res.status, 200);
  });
});
