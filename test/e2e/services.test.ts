/**
 * Services end to end: programs Kirin runs next to its workers and proxies to.
 * A killed service is restarted and serves again; its output is in Kirin's
 * log under its name; a reload replaces only what changed; a stop takes the
 * services down; a program that does not exist stops `kirin serve` with an
 * error that names the command.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http.ts';
import { status } from '../support/control.ts';
import { startKirin, tempDir, writeConfig, waitFor, type KirinProcess } from '../support/kirin.ts';
import { isAlive } from '../support/process.ts';

const SERVICE = `
import http from 'node:http';
const where = process.argv[2];
console.log('service listening on ' + where);
http.createServer((req, res) => res.end(process.env.GREETING + ' from ' + process.pid + ' ' + req.url)).listen(/^\\d+$/.test(where) ? Number(where) : where);
`;

function config(dir: string, greeting: string): string {
  const node = JSON.stringify(process.execPath);
  return JSON.stringify({
    workers: 2,
    listen: { http: ['127.0.0.1:0'] },
    stateDir: join(dir, 'state'),
    services: {
      web: { command: `${node} service.mjs {socket}`, env: { GREETING: greeting } },
      api: { command: `${node} service.mjs {port}`, env: { GREETING: 'api' } },
    },
    sites: {
      'web.test': { tls: 'off', '/': { proxy: { service: 'web' } } },
      'api.test': { tls: 'off', '/': { proxy: { service: 'api' } } },
    },
  });
}

describe('services (e2e)', () => {
  let dir: string;
  let kirin: KirinProcess;
  before(async () => {
    dir = tempDir();
    writeFileSync(join(dir, 'service.mjs'), SERVICE);
    writeFileSync(join(dir, 'kirin.config.json'), config(dir, 'hello'));
    kirin = await startKirin({ cwd: dir, args: ['serve'] });
  });
  after(() => kirin?.stop());

  const get = (host: string, path = '/') => request(`${kirin.url}${path}`, { headers: { host } });
  const servicePid = async (name: string) => (await status(kirin.stateDir)).services.find((s) => s.name === name)!.pid!;

  it('proxies to a {socket} service and a {port} service', async () => {
    assert.match((await get('web.test', '/a')).body, /^hello from \d+ \/a$/);
    assert.match((await get('api.test', '/b')).body, /^api from \d+ \/b$/);
    const services = (await status(kirin.stateDir)).services;
    assert.deepEqual(
      services.map((s) => [s.name, s.state]),
      [
        ['web', 'running'],
        ['api', 'running'],
      ],
    );
    assert.match(services[0]!.upstream, /^unix:.*\/run\/web\.sock$/);
    assert.match(services[1]!.upstream, /^127\.0\.0\.1:\d+$/);
  });

  it("logs the service's output under its name", async () => {
    await kirin.waitForLine((l) => l.role === 'service:web' && typeof l.msg === 'string' && l.msg.startsWith('service listening on '), 5_000, "the service's own line");
  });

  it('restarts a service that was killed, and it serves again', async () => {
    const before = await servicePid('web');
    process.kill(before, 'SIGKILL');
    await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('service web exited (signal SIGKILL)'), 5_000, 'the exit to be noticed');
    // A request during the restart waits for the socket instead of failing.
    const res = await get('web.test', '/again');
    assert.equal(res.status, 200);
    const after = await servicePid('web');
    assert.notEqual(after, before);
    assert.equal(res.body, `hello from ${after} /again`);
    assert.equal((await status(kirin.stateDir)).services.find((s) => s.name === 'web')!.restarts, 1);
  });

  it('on reload starts the changed service next to the old one, keeps the others, and stops the old one once the old generation is gone', async () => {
    const web = await servicePid('web');
    const api = await servicePid('api');
    writeFileSync(join(dir, 'kirin.config.json'), config(dir, 'bonjour'));
    kirin.signal('SIGHUP');
    await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('reloaded: generation 2'), 30_000, 'the reload');
    // A new connection reaches the new generation, whose proxy reaches the new service.
    const fresh = await request(`${kirin.url}/`, { headers: { host: 'web.test' }, agent: false });
    assert.match(fresh.body, /^bonjour from \d+ \/$/);
    assert.notEqual(await servicePid('web'), web);
    assert.equal(await servicePid('api'), api);
    assert.match((await get('api.test')).body, new RegExp(`^api from ${api} /$`));
    await waitFor(() => !isAlive(web), { what: 'the replaced service to stop once the old generation has drained' });
  });

  it('stops its services when it stops', async () => {
    const pids = (await status(kirin.stateDir)).services.map((s) => s.pid!);
    await kirin.stop();
    for (const pid of pids) await waitFor(() => !isAlive(pid), { what: `service pid ${pid} to be gone` });
  });
});

describe('a service that cannot start', () => {
  it('stops kirin serve with an error naming the command', async () => {
    const dir = tempDir();
    writeConfig(dir, {
      services: { django: { command: 'gunicorn-is-not-installed mysite.wsgi --bind unix:{socket}' } },
      sites: { 'shop.test': { tls: 'off', '/': { proxy: { service: 'django' } } } },
    });
    const kirin = await startKirin({ cwd: dir, args: ['serve'], waitReady: false });
    const { code } = await kirin.exited;
    assert.notEqual(code, 0);
    assert.match(kirin.output(), /service "django": cannot start `gunicorn-is-not-installed mysite\.wsgi --bind unix:\{socket\}`: the program "gunicorn-is-not-installed" was not found/);
  });
});
