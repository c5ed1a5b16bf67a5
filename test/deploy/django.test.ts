/**
 * The worked example of docs/deploy.md, run: the seeds' Django site
 * (examples/deploy-django/mysite) shipped with `kirin deploy` to a real SSH
 * host — migrate and collectstatic as beforeSwitch hooks, gunicorn (Debian's)
 * as a Kirin service on a unix socket, Kirin proxying to it, the SQLite
 * database in a shared folder that outlives releases.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeLoad, startLoad } from '../../bench/lib/load.ts';
import { ROOT } from '../support/kirin.ts';
import { appNpmCache, createApp, type TestApp } from './support/app.ts';
import { cli } from './support/cli.ts';
import { startTestHost, type TestHost } from './support/test-host.ts';
import { visit } from './support/visit.ts';

const SITE = 'shop.example.com';
const EXAMPLE = join(ROOT, 'examples', 'deploy-django');
const secret = `dj-${randomBytes(24).toString('hex')}`;

describe("the seeds' Django site (examples/deploy-django) shipped with kirin deploy", () => {
  let host: TestHost;
  let app: TestApp;

  /** The site as a visitor who arrives now sees it, by the site's name. */
  async function home(): Promise<Record<string, unknown>> {
    const response = await visit(host, '/', { host: SITE });
    assert.equal(response.status, 200, response.body);
    return JSON.parse(response.body) as Record<string, unknown>;
  }

  before(async () => {
    host = await startTestHost({ npmCache: appNpmCache() });
    // The example's own config, pointed at the test host, on plain HTTP as behind a proxy that ends TLS
    // (trustedProxies): the test host has no certificate to get.
    const example = ((await import(join(EXAMPLE, 'kirin.config.ts'))) as { default: Record<string, unknown> & { deploy: Record<string, unknown> } }).default;
    const { listen: _listen, tls: _tls, deploy, ...served } = example;
    app = createApp({
      name: 'shop',
      deploy: { ...deploy, hosts: [host.spec], path: host.path, sshConfig: host.sshConfig, healthTimeout: 30 },
      extraConfig: { ...served, trustedProxies: ['127.0.0.1'] },
    });
    cpSync(join(EXAMPLE, 'mysite'), join(app.dir, 'mysite'), { recursive: true });
    app.write('.env.production', `NODE_ENV=production\nDJANGO_SECRET_KEY=${secret}\n`);
  });
  after(async () => {
    await host?.stop();
  });

  it('the first deploy collects the static files (Kirin serves them), migrates once, and serves Django through gunicorn behind Kirin; the database lands in shared/', async () => {
    const result = await cli(['deploy'], app.dir);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, new RegExp(`\\[${host.spec}\\] +Applying contenttypes\\.0001_initial\\.\\.\\. OK`));
    assert.match(result.output, new RegExp(`\\[${host.spec}\\] 1 static file copied to '${host.path}/\\.kirin/incoming/[\\d-]+/mysite/staticfiles'`));
    assert.ok(!result.output.includes(secret), 'the secret appeared in the output');
    assert.deepEqual(await home(), { site: 'shop', framework: 'django', host: SITE, secure: false, client: testSideAddress(host) });
    const css = await visit(host, '/static/site.css', { host: SITE });
    assert.equal(css.status, 200);
    assert.equal(css.body, readFileSync(join(EXAMPLE, 'mysite', 'static', 'site.css'), 'utf8'));
    const release = host.exec(`readlink ${host.path}/current`).trim();
    assert.equal(host.exec(`readlink ${host.path}/${release}/mysite/data`).trim(), `${host.path}/shared/mysite/data`);
    assert.equal(host.exec(`stat -c %U ${host.path}/shared/mysite/data/db.sqlite3`).trim(), host.user);
  });

  it('a second deploy of a changed view under load: zero failed requests, nothing left to migrate, the same database file', async () => {
    const database = host.exec(`stat -c %i ${host.path}/shared/mysite/data/db.sqlite3`).trim();
    const views = readFileSync(join(EXAMPLE, 'mysite', 'mysite', 'views.py'), 'utf8');
    app.write('mysite/mysite/views.py', views.replace("'framework': 'django',", "'framework': 'django',\n        'release': 2,"));
    const load = startLoad({ url: `http://${host.address}:8000/`, concurrency: 20, headers: { host: SITE } });
    try {
      await load.waitForRequests(100);
      const result = await cli(['deploy'], app.dir);
      assert.equal(result.code, 0, result.output);
      assert.match(result.output, /No migrations to apply/);
      await load.waitForRequests(load.snapshot().requests + 100);
      const report = await load.stop();
      assert.equal(report.failures, 0, describeLoad(report));
    } finally {
      await load.stop();
    }
    assert.equal((await home()).release, 2);
    assert.equal(host.exec(`stat -c %i ${host.path}/shared/mysite/data/db.sqlite3`).trim(), database);
  });
});

/** This side of the veth pair: the address the host sees the test's requests come from. */
function testSideAddress(host: TestHost): string {
  const octets = host.address.split('.').map(Number);
  octets[3]! -= 1;
  return octets.join('.');
}
