import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/issues.ts';
import { readEnvFiles } from '../../src/config/load.ts';
import { parseListenAddress } from '../../src/config/listen-address.ts';
import { normalizeConfig } from '../../src/config/normalize.ts';
import { checkServedFiles, servedFileProblems } from '../../src/config/served-files.ts';
import { tempDir } from '../support/kirin.ts';

const FILE = '/srv/app/kirin.config.ts';

function plan(raw: unknown, extra: Partial<Parameters<typeof normalizeConfig>[0]> = {}) {
  return normalizeConfig({ raw, file: FILE, cwd: '/srv/app', env: {}, ...extra });
}

function problems(raw: unknown): string[] {
  try {
    plan(raw);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('the config was accepted');
}

const site = { '/': { app: './app.ts' } };

describe('normalizeConfig', () => {
  it('applies the documented defaults', () => {
    const p = plan({ sites: { 'a.test': site } }, { env: { WEB_CONCURRENCY: '3' } });
    assert.equal(p.workers, 3);
    assert.deepEqual(p.listen.http.map((l) => l.spec), [':80']);
    assert.deepEqual(p.listen.https.map((l) => l.spec), [':443'], 'a TLS site without listen gets :80 and :443');
    assert.equal(p.timeoutMs, 30_000);
    assert.equal(p.gracefulTimeoutMs, 30_000);
    assert.equal(p.limits.maxBodyBytes, 10 * 1024 * 1024);
    assert.equal(p.accessLog, '-');
    assert.equal(p.sites[0]!.routes[0]!.handler.type, 'app');
    assert.deepEqual(p.sites[0]!.routes[0]!.handler, { type: 'app', module: '/srv/app/app.ts', exportName: 'default' });
  });

  it('listens on 127.0.0.1:8000, or 0.0.0.0:$PORT, when no site needs TLS', () => {
    assert.deepEqual(plan({ sites: { '*': site } }).listen.http.map((l) => l.spec), ['127.0.0.1:8000']);
    assert.deepEqual(plan({ sites: { '*': site } }, { env: { PORT: '5000' } }).listen.http.map((l) => l.spec), ['0.0.0.0:5000']);
  });

  it('command-line overrides win over the file', () => {
    const p = plan({ workers: 2, sites: { '*': site }, limits: { maxBody: '1mb' } }, { overrides: { workers: 5, limits: { headerTimeout: 3 } } });
    assert.equal(p.workers, 5);
    assert.equal(p.limits.headerTimeoutMs, 3000);
    assert.equal(p.limits.maxBodyBytes, 1024 * 1024, 'file limits not overridden stay');
  });

  it('names the file, the key path and what is expected, for every problem at once', () => {
    const found = problems({
      workerz: 2,
      workers: 'many',
      sticky: 'yes',
      listen: { http: ['localhost:80x'] },
      sites: {
        'api.example.test': { '/': { proxy: { to: ['http://127.0.0.1:9001', 'http://127.0.0.1:9002/v1'] } } },
        'bad host!': site,
        'b.test': { '/': { app: './a.ts', static: './public' } },
        'c.test': { '/': { allow: ['10.0.0.0/33'], app: './a.ts' } },
      },
    });
    assert.deepEqual(found, [
      'workerz: unknown option (did you mean "workers"?); known: workers, listen, envFiles, trustedProxies, stateDir, pidFile, timeout, gracefulTimeout, sticky, maxRequests, maxRequestsJitter, maxMemory, limits, accessLog, logLevel, services, sites, tls, admin, notify, ddns, deploy, relay',
      'workers: expected a whole number from 1 to 1024, got "many"',
      'sites["api.example.test"]["/"].proxy.to[1]: an upstream URL is scheme, host and port only (no path); got "http://127.0.0.1:9002/v1"',
      'sites["bad host!"]: "bad host!" is not a host name; expected names like \'example.com\', \'*.example.com\' (one label) or \'*\'',
      'sites["b.test"]["/"]: a route has exactly one handler, found app and static',
      'sites["c.test"]["/"].allow[0]: "10.0.0.0/33" is not an IP address or CIDR range (e.g. \'10.0.0.0/8\', \'::1\')',
      "listen.http[0]: expected 'HOST:PORT' (e.g. '127.0.0.1:8000', ':80', '[::1]:8000') or 'unix:/path'; got \"localhost:80x\"",
      'sticky: expected true or false, got "yes"',
    ]);
  });

  it('the error message lists each problem with the file', () => {
    try {
      plan({ sites: { '*': { '/': { app: 42 } } } });
      assert.fail('accepted');
    } catch (error) {
      assert.match((error as Error).message, /^invalid configuration \(1 problem\):\n {2}\/srv\/app\/kirin\.config\.ts: sites\["\*"\]\["\/"\]\.app: expected a module path like '\.\/app\.ts' or '\.\/server\.js:handler', got number 42$/);
    }
  });

  it('refuses a service reference that does not exist, and a route without handler', () => {
    assert.deepEqual(problems({ services: { web: { command: 'x' } }, sites: { 'a.test': { '/': { proxy: { service: 'django' } }, '/x': { allow: ['::1'] } } } }), [
      'sites["a.test"]["/"].proxy.service: no service named "django"; services: web',
      'sites["a.test"]["/x"]: a route needs one handler: app, static, proxy, redirect, respond',
    ]);
  });

  it('a host can belong to one site only', () => {
    assert.deepEqual(problems({ sites: { 'a.test': site, 'b.test, A.test': site } }), ['sites["b.test, A.test"]: host "a.test" is already claimed by site "a.test"']);
  });

  it('TLS cannot be asked for without an https listener; implicit TLS is turned off', () => {
    assert.deepEqual(problems({ listen: { http: ['127.0.0.1:8080'] }, sites: { 'a.test': { tls: 'local', ...site } } }), [
      "sites[\"a.test\"].tls: is 'local' but listen has no https addresses; add listen.https (e.g. [':443'])",
    ]);
    const p = plan({ listen: { http: ['127.0.0.1:8080'] }, sites: { 'blog.example.com': site } });
    assert.deepEqual(p.sites[0]!.tls, { mode: 'off' });
  });

  it('requires an admin token off loopback', () => {
    assert.deepEqual(problems({ sites: { '*': site }, admin: { listen: '0.0.0.0:9180' } }), [
      'admin.token: is required when the admin listener is reachable beyond loopback (listen is 0.0.0.0:9180); make one with `kirin secret`',
    ]);
  });

  it('longest prefix first; a route prefix is stored without its trailing slash', () => {
    const p = plan({ sites: { '*': { '/': { app: './a.ts' }, '/static/': { static: './s' }, '/static/img/': { static: './i' } } } });
    assert.deepEqual(p.sites[0]!.routes.map((r) => r.prefix), ['/static/img', '/static', '/']);
  });
});

describe('values from flags', () => {
  it('a bad value from a flag is named by the flag and the key it sets, not by the file', () => {
    try {
      plan({ logLevel: 'info', sites: { '*': site } }, { overrides: { logLevel: 'loud', listen: { http: ['localhost:80x'] }, limits: { maxBody: '10zb' }, stateDir: '/srv/app/state' } });
      assert.fail('accepted');
    } catch (error) {
      assert.equal(
        (error as Error).message,
        [
          'invalid configuration (3 problems):',
          "  --bind (listen.http[0]): expected 'HOST:PORT' (e.g. '127.0.0.1:8000', ':80', '[::1]:8000') or 'unix:/path'; got \"localhost:80x\"",
          "  --max-body (limits.maxBody): expected a size in bytes (1048576) or with a unit ('512kb', '10mb', '1gb'), got \"10zb\"",
          "  --log-level (logLevel): expected one of 'debug', 'info', 'warn', 'error', got \"loud\"",
        ].join('\n'),
      );
    }
  });

  it('advice about a setting names the key and its flag', () => {
    assert.deepEqual(problems({ stateDir: `/srv/${'x'.repeat(100)}`, services: { web: 'gunicorn app --bind unix:{socket}' }, sites: { '*': site } }), [
      `services.web.command: the socket path for {socket} (/srv/${'x'.repeat(100)}/run/web.sock) is longer than unix sockets allow (107 bytes, with room for the ".2.sock" a reload uses); set a shorter stateDir (--state-dir)`,
    ]);
    // 107 bytes fit today's socket, but not the web.2.sock a reload of the service would need.
    const fitsOnlyOnce = `/srv/${'x'.repeat(89)}`;
    assert.equal(Buffer.byteLength(`${fitsOnlyOnce}/run/web.sock`), 107);
    assert.equal(problems({ stateDir: fitsOnlyOnce, services: { web: 'gunicorn app --bind unix:{socket}' }, sites: { '*': site } }).length, 1);
    assert.equal(plan({ stateDir: `/srv/${'x'.repeat(87)}`, services: { web: 'gunicorn app --bind unix:{socket}' }, sites: { '*': site } }).services.web!.socket, `/srv/${'x'.repeat(87)}/run/web.sock`);
  });
});

describe('the files a plan serves', () => {
  it('a missing app module or static root is named by its key; a near name is suggested; folders and files are told apart', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'app.ts'), 'export default { fetch: () => new Response("ok") };\n');
    mkdirSync(join(dir, 'src'));
    const file = join(dir, 'kirin.config.json');
    const served = normalizeConfig({
      raw: {
        sites: {
          'example.com': { '/static/': { static: './public' }, '/files/': { static: './app.ts' }, '/src/': { app: './src' }, '/': { app: './app.mts' } },
          'ok.example.com': { '/': { app: './app.ts:default' } },
        },
      },
      file,
      cwd: dir,
      env: {},
    });
    assert.throws(
      () => checkServedFiles(served),
      (error: Error) =>
        error instanceof ConfigError &&
        error.message ===
          [
            'invalid configuration (4 problems):',
            `  ${file}: sites["example.com"]["/static/"].static: no such folder: ${dir}/public`,
            `  ${file}: sites["example.com"]["/files/"].static: ${dir}/app.ts is a file; static serves a folder (its files by their paths)`,
            `  ${file}: sites["example.com"]["/src/"].app: ${dir}/src is a folder; name the module file in it (e.g. 'src/app.ts')`,
            `  ${file}: sites["example.com"]["/"].app: no such file: ${dir}/app.mts; did you mean "app.ts"?`,
          ].join('\n'),
    );
  });

  it('a plan whose files are all there passes', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'app.ts'), 'export default { fetch: () => new Response("ok") };\n');
    mkdirSync(join(dir, 'public'));
    assert.deepEqual(servedFileProblems(normalizeConfig({ raw: { sites: { '*': { '/static/': { static: './public' }, '/': { app: './app.ts' } } } }, file: join(dir, 'kirin.config.json'), cwd: dir, env: {} })), []);
  });
});

describe('parseListenAddress', () => {
  it('understands the documented forms', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:8080', '/'), { kind: 'tcp', host: '127.0.0.1', port: 8080, path: '', fd: -1, spec: '127.0.0.1:8080' });
    assert.equal((parseListenAddress(':80', '/') as { host: string }).host, '');
    assert.equal((parseListenAddress('[::1]:8080', '/') as { host: string }).host, '::1');
    assert.equal((parseListenAddress('unix:run/k.sock', '/srv') as { path: string }).path, '/srv/run/k.sock');
    assert.match(parseListenAddress('::1:8080', '/') as string, /needs brackets/);
    assert.match(parseListenAddress('example.com:80', '/') as string, /not an IP address/);
  });
});

describe('env files', () => {
  it('later files win over earlier ones; variables already set win over both', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.env'), 'A=1\nB=from-a\nSECRET_KEY="quoted value"\n');
    writeFileSync(join(dir, 'b.env'), 'B=from-b\nHOME=/nope\n');
    const { env } = readEnvFiles([join(dir, 'a.env'), join(dir, 'b.env')], { HOME: '/root' });
    assert.deepEqual(env, { A: '1', B: 'from-b', SECRET_KEY: 'quoted value' });
  });

  it('a missing env file is an error that names it', () => {
    assert.throws(() => readEnvFiles(['/nonexistent/.env'], {}), /envFiles \(--env-file\): cannot read \/nonexistent\/\.env: no such file/);
  });
});
