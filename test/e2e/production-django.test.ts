/**
 * The Django walk of docs/production.md, as it is written: examples/production-django
 * (the guide shows its config and its "Behind Kirin" settings verbatim). Kirin
 * runs gunicorn from Debian on a {socket} service, serves what collectstatic
 * gathered, and passes a form post with its CSRF token through to Django.
 * Before collectstatic, `kirin check` names the missing static folder.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { request } from '../support/http.ts';
import { linkKirin, ROOT, runKirin, startKirin, tempDir, type KirinProcess } from '../support/kirin.ts';

const EXAMPLE = join(ROOT, 'examples', 'production-django');
// Debian's python3-django and gunicorn live with the system Python.
const PYTHON = '/usr/bin/python3';

describe('examples/production-django (docs/production.md, "A Django app")', () => {
  let dir: string;
  let kirin: KirinProcess;
  const site = { host: 'shop.example.com' };

  before(async () => {
    dir = tempDir('ke-django-');
    cpSync(EXAMPLE, dir, { recursive: true });
    linkKirin(dir);
    const secret = (await runKirin(['secret'], dir)).stdout.trim();
    writeFileSync(join(dir, '.env'), readFileSync(join(dir, '.env.example'), 'utf8').replace(/^DJANGO_SECRET_KEY=.*$/m, `DJANGO_SECRET_KEY=${secret}`), { mode: 0o600 });
  });

  after(() => kirin?.stop());

  it('the guide shows the config and the settings for running behind Kirin as they are in the example', () => {
    const guide = readFileSync(join(ROOT, 'docs', 'production.md'), 'utf8');
    assert.ok(guide.includes(readFileSync(join(EXAMPLE, 'kirin.config.ts'), 'utf8').trim()), 'kirin.config.ts is not in docs/production.md verbatim');
    const settings = readFileSync(join(EXAMPLE, 'mysite', 'mysite', 'settings.py'), 'utf8');
    const behindKirin = settings.slice(settings.indexOf('# --- Behind Kirin')).trim();
    assert.ok(guide.includes(behindKirin), 'the "Behind Kirin" settings are not in docs/production.md verbatim');
  });

  it('before collectstatic, kirin check names the static folder that is not there', async () => {
    const check = await runKirin(['check'], dir);
    assert.equal(check.code, 1);
    assert.match(check.stdout, new RegExp(`sites\\["shop\\.example\\.com"\\]\\["/static/"\\]\\.static: no such folder: ${dir}/mysite/staticfiles`));
  });

  it('after collectstatic, Kirin serves the static files, Django the pages, and a form posts through', async () => {
    const env = { ...process.env, DJANGO_SECRET_KEY: 'collectstatic-needs-a-value-only', PYTHONDONTWRITEBYTECODE: '1' };
    await promisify(execFile)(PYTHON, ['manage.py', 'collectstatic', '--noinput'], { cwd: join(dir, 'mysite'), env });
    kirin = await startKirin({
      cwd: dir,
      // The config listens on :80 and :443; the test takes a free loopback port (flags win over the file).
      args: ['serve', '--bind', '127.0.0.1:0', '--workers', '1', '--admin', 'off', '--state-dir', join(dir, 'state')],
      env: { PYTHONDONTWRITEBYTECODE: '1' },
      timeoutMs: 60_000,
    });

    const page = await request(`${kirin.url}/`, { headers: site });
    assert.equal(page.status, 200, page.body);
    const token = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(page.body)?.[1];
    assert.ok(token, page.body);
    const cookie = String(page.headers['set-cookie']);
    assert.match(cookie, /csrftoken=[^;]+;.* Secure/, 'CSRF_COOKIE_SECURE reached the browser');

    const css = await request(`${kirin.url}/static/shop.css`, { headers: site });
    assert.equal(css.status, 200, 'Kirin serves the collected file (Django with DEBUG off would not)');
    assert.equal(css.body, 'body { font-family: sans-serif; }\n');

    const form = { ...site, 'content-type': 'application/x-www-form-urlencoded', cookie: cookie.split(';')[0]! };
    const order = await request(`${kirin.url}/order/`, { method: 'POST', headers: form, body: `csrfmiddlewaretoken=${token}&item=tea` });
    assert.equal(order.status, 200, order.body);
    assert.equal(order.body, 'ordered tea\n');
    const forged = await request(`${kirin.url}/order/`, { method: 'POST', headers: { ...site, 'content-type': 'application/x-www-form-urlencoded' }, body: 'item=tea' });
    assert.equal(forged.status, 403, 'a post without the token is refused by Django');

    assert.equal((await request(`${kirin.url}/nothing-here`, { headers: site })).status, 404);
    assert.equal((await request(`${kirin.url}/`, { headers: { host: 'evil.test' } })).status, 421);
  });
});
