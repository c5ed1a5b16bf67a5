/**
 * Every kind of app Kirin runs is logged and measured alike: Express, Koa,
 * Fastify (its instance and its serverFactory), Hono, a plain Node listener (sync and async) and a fetch handler (installed from npm;
 * test/fixtures/apps/every-app/) answer the same four requests — a 200, the
 * app's own 404, a 500 from the app's own error handler and a thrown error —
 * and each gives the same access-log fields, the same request metrics, a row
 * in the dashboard's last errors and an app-error alert for both 5xx.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AccessEntry } from '../../src/observe/access-log.ts';
import { apiStatus, scrape, startWithAdmin, type AdminKirin } from '../support/admin.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/alert-receivers.ts';
import { request } from '../support/http.ts';
import { valueOf } from '../support/prometheus.ts';
import { ROOT, tempDir, waitFor, writeFiles } from '../support/kirin.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'apps', 'every-app');
const APPS = { express: 'express.mjs', koa: 'koa.mjs', fastify: 'fastify.mjs', fastifyFactory: 'fastify-factory.mjs:node', hono: 'hono.ts', listener: 'listener.mjs', asyncListener: 'listener-async.mjs', fetch: 'fetch.ts' } as const;
type AppName = keyof typeof APPS;
const NAMES = Object.keys(APPS) as AppName[];
/** Where Kirin itself sees the exception (no framework catches it), so the error has a stack. */
const KIRIN_SEES_THROWS: ReadonlySet<AppName> = new Set(['listener', 'asyncListener', 'fetch']);
const REQUESTS = [
  { path: '/ok', status: 200 },
  { path: '/missing', status: 404 },
  { path: '/handled', status: 500 },
  { path: '/throw', status: 500 },
] as const;

/** An access-log JSON line: the entry's fields, two of them under their log names, plus time and type. */
type AccessLine = Omit<AccessEntry, 'durationMs' | 'userAgent'> & { type: string; time: string; duration_ms: number; ua?: string };
interface Status {
  errors: { kind: string; title: string; detail: string; count: number }[];
}

describe('every app is logged and measured alike', () => {
  let hook: WebhookReceiver;
  let k: AdminKirin;
  let accessLog: string;
  let host: string;

  before(async () => {
    hook = await startWebhookReceiver();
    const dir = tempDir();
    accessLog = join(dir, 'access.log');
    const routes = NAMES.map((name) => `'/${name}/': { app: ${JSON.stringify(join(FIXTURES, APPS[name]))}, stripPrefix: true },`).join('\n');
    writeFiles(dir, {
      'kirin.config.ts': `export default {
        admin: { listen: '127.0.0.1:0' },
        accessLog: ${JSON.stringify(accessLog)},
        notify: { webhook: '${hook.url}' },
        sites: { '*': {
          ${routes}
        } },
      };\n`,
    });
    // NODE_ENV unset, as on a fresh shell: Kirin sets it for the app.
    k = await startWithAdmin(dir, 2, { NODE_ENV: undefined });
    host = new URL(k.kirin.url).host;
  });
  after(async () => {
    await k?.kirin.stop();
    await hook?.close();
  });

  it('answers the same requests alike, with Kirin\'s view of the client and NODE_ENV=production', async () => {
    for (const name of NAMES) {
      for (const { path, status } of REQUESTS) {
        // A client that claims another address: the app must see Kirin's, whatever the framework does to the request.
        const res = await request(`${k.kirin.url}/${name}${path}`, { headers: { 'x-forwarded-for': '203.0.113.9', 'user-agent': 'every-app/1' } });
        assert.equal(res.status, status, `${name} ${path}: ${res.body}`);
        if (path === '/ok') assert.equal(res.body, 'ok 127.0.0.1 production', name);
        // NODE_ENV=production: no framework shows a stack (Express would, in development).
        if (path === '/throw') assert.doesNotMatch(res.body, /\s+at \S+/, `${name}: no stack for the client`);
      }
    }
  });

  it('writes the same access-log fields for every app', async () => {
    const lines = await waitFor(
      () => {
        const parsed = readFileSync(accessLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AccessLine);
        return parsed.length >= NAMES.length * REQUESTS.length ? parsed : null;
      },
      { what: `${NAMES.length * REQUESTS.length} access-log lines` },
    );
    assert.equal(lines.length, NAMES.length * REQUESTS.length, 'one line per request, no more');
    for (const name of NAMES) {
      const own = lines.filter((l) => l.path.startsWith(`/${name}/`));
      assert.deepEqual(
        own.map(({ time: _t, duration_ms: _d, bytes: _b, ...fields }) => fields),
        REQUESTS.map(({ path, status }) => ({ type: 'access', client: '127.0.0.1', method: 'GET', host: '127.0.0.1', path: `/${name}${path}`, status, site: '*', ua: 'every-app/1' })),
        `${name}'s access-log lines`,
      );
      for (const line of own) {
        assert.ok(line.bytes > 0, `${name} ${line.path}: bytes on the wire counted`);
        assert.ok(line.duration_ms >= 0, `${name} ${line.path}: a duration`);
      }
    }
  });

  it('counts every request in the same metrics', async () => {
    const total = NAMES.length * REQUESTS.length;
    const families = await waitFor(
      async () => {
        const scraped = await scrape(k.admin);
        return Number(scraped.get('kirin_http_request_duration_seconds')?.metrics[0]?.count) === total ? scraped : null;
      },
      { what: `kirin_http_request_duration_seconds_count = ${total}` },
    );
    for (const name of NAMES) {
      const route = `/${name}`;
      for (const [statusClass, count] of [['2xx', 1], ['4xx', 1], ['5xx', 2]] as const) {
        assert.equal(valueOf(families, 'kirin_http_requests_total', { site: '*', route, status_class: statusClass }), count, `${name} ${statusClass}`);
      }
    }
  });

  it('shows both 500s of every app in the last errors, a stack only where Kirin saw the exception', async () => {
    const status = await waitFor(
      async () => {
        const current = await apiStatus<Status>(k.admin);
        return current.errors.filter((e) => e.kind === 'app-error').length >= NAMES.length * 2 ? current : null;
      },
      { what: 'two app errors for each app' },
    );
    const errors = status.errors.filter((e) => e.kind === 'app-error');
    assert.equal(errors.length, NAMES.length * 2, `one entry per 5xx, none twice: ${errors.map((e) => e.title).join(' | ')}`);
    for (const name of NAMES) {
      const handled = errors.find((e) => e.title.startsWith(`GET /${name}/handled → `));
      assert.ok(handled, `${name}: the 500 of its own error handler`);
      assert.equal(handled.title, `GET /${name}/handled → 500 Internal Server Error, answered by the app`);
      assert.match(handled.detail, new RegExp(`Request: GET http://${host}/${name}/handled\\n`));
      assert.doesNotMatch(handled.detail, /^\s+at /m, `${name}: Kirin saw no exception, so no stack`);
      assert.equal(handled.count, 1);

      const thrown = errors.find((e) => e.title.startsWith(`GET /${name}/throw → `));
      assert.ok(thrown, `${name}: the thrown error`);
      assert.match(thrown.detail, new RegExp(`Request: GET http://${host}/${name}/throw\\n`));
      if (KIRIN_SEES_THROWS.has(name)) {
        assert.match(thrown.title, /→ Error: (listener|async listener|fetch handler) threw$/);
        assert.match(thrown.detail, new RegExp(`^\\s+at .*${APPS[name].replace('.', '\\.')}:\\d+:\\d+`, 'm'), `${name}: the stack`);
      } else {
        assert.equal(thrown.title, `GET /${name}/throw → 500 Internal Server Error, answered by the app`);
        assert.doesNotMatch(thrown.detail, /^\s+at /m);
      }
    }
  });

  it('sends an app-error alert for every 5xx', async () => {
    const posts = await hook.waitForPosts(NAMES.length * 2);
    const texts = posts.filter((p) => p.kind === 'app-error').map((p) => String(p.text));
    for (const name of NAMES) {
      for (const path of ['handled', 'throw']) {
        assert.ok(texts.some((t) => t.includes(`GET /${name}/${path} → `)), `${name} /${path} alerted: ${texts.join(' | ')}`);
      }
    }
  });
});
