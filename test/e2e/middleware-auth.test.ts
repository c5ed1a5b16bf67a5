/**
 * `auth` through a real Kirin, with hashes made by `kirin hash-password` (both
 * ways it reads a password: a pipe, and a terminal without echo).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { apiStatus, metric } from '../support/admin.ts';
import { request } from '../support/http.ts';
import { KIRIN_BIN, startKirin, tempDir, writeFiles, type KirinProcess } from '../support/kirin.ts';

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

function hashPassword(password: string, ...args: string[]): string {
  const result = spawnSync(process.execPath, [KIRIN_BIN, 'hash-password', ...args], { input: `${password}\n`, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim();
}

describe('auth (basic auth) end to end', () => {
  let kirin: KirinProcess;
  let admin: string;
  let dir: string;
  const alicePassword = 'correct horse battery staple';
  const bobPassword = 'pässwörd: with a colon';

  before(async () => {
    dir = tempDir();
    const bcrypt = hashPassword(alicePassword);
    const argon2 = hashPassword(bobPassword, '--argon2');
    assert.match(bcrypt, /^\$2b\$11\$/);
    assert.match(argon2, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    writeFiles(dir, {
      'app.ts': `export default { fetch(request: Request) { return new Response('secret ' + new URL(request.url).pathname); } };\n`,
      'kirin.config.ts': `export default {
        admin: { listen: '127.0.0.1:0' },
        sites: {
          '*': {
            '/bcrypt': { app: './app.ts', auth: { users: { alice: ${JSON.stringify(bcrypt)} }, realm: 'Staff only' } },
            '/argon2': { app: './app.ts', auth: { users: { bob: ${JSON.stringify(argon2)} } } },
            '/': { app: './app.ts' },
          },
        },
      };\n`,
    });
    kirin = await startKirin({ cwd: dir, args: ['serve', '--workers', '1', '--bind', '127.0.0.1:0', '--access-log', '-', '--state-dir', `${dir}/state`] });
    admin = String((await kirin.waitForLine((l) => String(l.msg).startsWith('admin listener on'), 10_000, 'the admin listener line')).admin);
  });
  after(() => kirin?.stop());

  it('asks for a password with 401 and the realm', async () => {
    const res = await request(`${kirin.url}/bcrypt/page`);
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="Staff only", charset="UTF-8"');
    assert.equal((await request(`${kirin.url}/argon2/`)).headers['www-authenticate'], 'Basic realm="Restricted", charset="UTF-8"');
    assert.equal((await request(`${kirin.url}/open`)).status, 200, 'routes without auth stay open');
  });

  it('lets the right user in against a bcrypt hash, again and again', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await request(`${kirin.url}/bcrypt/page`, { headers: basic('alice', alicePassword) });
      assert.equal(res.status, 200);
      assert.equal(res.body, 'secret /bcrypt/page');
    }
  });

  it('lets the right user in against an argon2 hash (UTF-8 password with a colon)', async () => {
    const res = await request(`${kirin.url}/argon2/x`, { headers: basic('bob', bobPassword) });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'secret /argon2/x');
  });

  it('refuses a wrong password, an unknown user, and a user of another route', async () => {
    for (const [path, headers] of [
      ['/bcrypt/page', basic('alice', `${alicePassword}!`)],
      ['/bcrypt/page', basic('mallory', alicePassword)],
      ['/bcrypt/page', basic('bob', bobPassword)],
      ['/argon2/x', basic('bob', 'wrong')],
      ['/argon2/x', { authorization: 'Bearer abc' }],
      ['/argon2/x', { authorization: 'Basic %%%' }],
    ] as const) {
      const res = await request(`${kirin.url}${path}`, { headers });
      assert.equal(res.status, 401, `${path} ${JSON.stringify(headers)}`);
      assert.doesNotMatch(res.body, /secret/);
    }
  });

  it('guards every spelling of the protected path', async () => {
    for (const path of ['/BCRYPT/page', '/bcrypt/./page', '//bcrypt/page', '/x/../bcrypt/page']) {
      const res = await request(`${kirin.url}${path}`);
      assert.notEqual(res.status, 200, path);
      assert.doesNotMatch(res.body, /secret/, path);
    }
  });

  it('never writes the password or the Authorization header to its logs', async () => {
    await request(`${kirin.url}/bcrypt/logged`, { headers: basic('alice', alicePassword) });
    await kirin.waitForLine((l) => l.type === 'access' && l.path === '/bcrypt/logged', 5000, 'the access log line');
    const output = kirin.output();
    for (const secret of [alicePassword, bobPassword, basic('alice', alicePassword).authorization.slice(6)]) assert.ok(!output.includes(secret), secret);
  });

  it('answers 503 when too many sign-ins wait, and does not call that 503 an app error', async () => {
    // bcrypt at cost 11 takes ~100 ms (more on a busy machine); two at a time, 64 waiting: the rest of a burst is told to retry.
    const burst = await Promise.all(Array.from({ length: 200 }, (_, i) => request(`${kirin.url}/bcrypt/burst`, { headers: basic('alice', `guess ${i}`), timeoutMs: 120_000 })));
    const statuses = new Set(burst.map((r) => r.status));
    assert.deepEqual([...statuses].sort(), [401, 503]);
    const busy = burst.find((r) => r.status === 503)!;
    assert.equal(busy.headers['retry-after'], '1');
    // The app never ran: Kirin's own 503 is counted as a 5xx, but is no error of the app's.
    const status = await apiStatus<{ errors: { kind: string; title: string }[] }>(admin);
    assert.deepEqual(status.errors.filter((e) => e.kind === 'app-error').map((e) => e.title), []);
    assert.ok(Number(await metric(admin, 'kirin_http_requests_total', { site: '*', route: '/bcrypt', status_class: '5xx' })) > 0);
  });

  it('hash-password prompts on a terminal without echoing the password', async () => {
    // `script` gives the command a terminal; the test types only once each prompt is shown.
    const child = spawn('script', ['-qfec', `${process.execPath} ${KIRIN_BIN} hash-password --argon2`, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (data: Buffer) => {
      out += data.toString();
      if (out.endsWith('Password: ') || out.endsWith('Again: ')) child.stdin.write('typed-secret\r');
    });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, out);
    assert.match(out, /Password: \s*Again: \s*\$argon2id\$/);
    assert.ok(!out.includes('typed-secret'), 'the password is not echoed');
  });
});

describe('auth config errors', () => {
  it('refuses a plain password in auth.users, naming the key', async () => {
    const dir = tempDir();
    writeFiles(dir, {
      'app.ts': `export default { fetch: () => new Response('x') };\n`,
      'kirin.config.ts': `export default { sites: { '*': { '/admin': { app: './app.ts', auth: { users: { alice: 'hunter2' } } } } } };\n`,
    });
    const kirin = await startKirin({ cwd: dir, args: ['serve', '--bind', '127.0.0.1:0', '--state-dir', `${dir}/state`], waitReady: false });
    const { code } = await kirin.exited;
    assert.notEqual(code, 0);
    assert.match(kirin.output(), /\["\/admin"\]\.auth\.users(\.alice|\["alice"\])/);
    assert.match(kirin.output(), /kirin hash-password/);
    assert.ok(!kirin.output().includes('hunter2'), 'the plain password is not echoed back');
  });
});
