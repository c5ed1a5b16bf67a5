/**
 * The ServiceManager with real child processes: a small Node server that
 * binds the {socket} or {port} it is given.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ServePlan, ServicePlan } from '../../src/config/plan.ts';
import { KirinError } from '../../src/errors.ts';
import { ServiceManager } from '../../src/master/services.ts';
import { createLogger } from '../../src/observe/log.ts';
import { request } from '../support/http.ts';
import { tempDir, waitFor } from '../support/kirin.ts';
import { isAlive } from '../support/process.ts';

const SERVICE = `
import http from 'node:http';
import { spawn } from 'node:child_process';
const where = process.argv[2];
console.log('listening on ' + where + ' greeting=' + process.env.GREETING + ' bind=' + process.env.BIND);
console.error('a line on stderr');
if (process.env.IGNORE_TERM) process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
if (process.env.GRANDCHILD) {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  console.log('grandchild ' + child.pid);
}
http.createServer((req, res) => res.end('pid ' + process.pid)).listen(/^\\d+$/.test(where) ? Number(where) : where);
`;

interface Captured {
  role: string;
  msg: string;
  stream?: string;
}

function harness() {
  const dir = tempDir('kirin-services-');
  writeFileSync(join(dir, 'service.mjs'), SERVICE);
  const lines: Captured[] = [];
  const destination = { write: (line: string) => void lines.push(JSON.parse(line) as Captured) };
  const logger = createLogger({ level: 'info', role: 'master', pretty: false, destination });
  const events = new EventEmitter();
  const seen: { type: string; payload: Record<string, unknown> }[] = [];
  for (const type of ['service-ready', 'service-exit', 'service-failed']) events.on(type, (payload) => seen.push({ type, payload }));
  const manager = new ServiceManager(logger, events, (role) => createLogger({ level: 'info', role, pretty: false, destination }));
  after(() => manager.stop());
  const service = (name: string, command: string, extra: Partial<ServicePlan> = {}): ServicePlan => ({
    name,
    command,
    cwd: dir,
    env: {},
    socket: command.includes('{socket}') ? join(dir, 'state', 'run', `${name}.sock`) : null,
    port: 0,
    usesPort: command.includes('{port}'),
    readyTimeoutMs: 10_000,
    stopTimeoutMs: 5_000,
    ...extra,
  });
  const plan = (...services: ServicePlan[]) => ({ services: Object.fromEntries(services.map((s) => [s.name, s])) }) as unknown as ServePlan;
  return { dir, lines, manager, seen, service, plan, env: { PATH: process.env.PATH } as NodeJS.ProcessEnv };
}

const node = JSON.stringify(process.execPath);

describe('services', () => {
  it('starts a {socket} service in a private folder, with the env, and logs its output under its name', async () => {
    const h = harness();
    const web = h.service('web', `${node} service.mjs {socket}`, { env: { GREETING: 'hello', BIND: 'unix:{socket}' } });
    mkdirSync(join(h.dir, 'state', 'run'), { recursive: true });
    writeFileSync(web.socket!, 'stale');
    await h.manager.start(h.plan(web), h.env);
    assert.equal(statSync(join(h.dir, 'state', 'run')).mode & 0o777, 0o700);
    const res = await request('http://localhost/', { socketPath: web.socket! });
    assert.match(res.body, /^pid \d+$/);
    const [status] = h.manager.status();
    assert.deepEqual({ ...status, pid: typeof status!.pid }, { name: 'web', pid: 'number', state: 'running', restarts: 0, upstream: `unix:${web.socket}` });
    assert.ok(h.manager.allRunning());
    await waitFor(() => h.lines.some((l) => l.role === 'service:web' && l.stream === 'stderr' && l.msg === 'a line on stderr'), { what: 'the stderr line' });
    const out = h.lines.find((l) => l.role === 'service:web' && l.stream === 'stdout');
    assert.equal(out?.msg, `listening on ${web.socket} greeting=hello bind=unix:${web.socket}`);
    assert.ok(h.seen.some((e) => e.type === 'service-ready' && e.payload.name === 'web'));
  });

  it('gives a {port} service a free loopback port and writes it into the plan before the workers start', async () => {
    const h = harness();
    const api = h.service('api', `${node} service.mjs {port}`);
    const plan = h.plan(api);
    await h.manager.start(plan, h.env);
    assert.ok(plan.services.api!.port > 0);
    const res = await request(`http://127.0.0.1:${plan.services.api!.port}/`);
    assert.equal(res.status, 200);
    assert.equal(h.manager.status()[0]!.upstream, `127.0.0.1:${plan.services.api!.port}`);
  });

  it('restarts a service that dies, and it serves again', async () => {
    const h = harness();
    const web = h.service('web', `${node} service.mjs {socket}`);
    await h.manager.start(h.plan(web), h.env);
    const first = h.manager.status()[0]!.pid!;
    process.kill(first, 'SIGKILL');
    await waitFor(() => h.manager.status()[0]!.state === 'running' && h.manager.status()[0]!.pid !== first, { what: 'the restart' });
    assert.equal(h.manager.status()[0]!.restarts, 1);
    const res = await request('http://localhost/', { socketPath: web.socket! });
    assert.equal(res.body, `pid ${h.manager.status()[0]!.pid}`);
    assert.ok(h.seen.some((e) => e.type === 'service-exit' && e.payload.signal === 'SIGKILL'));
    assert.ok(h.lines.some((l) => l.role === 'master' && /service web exited \(signal SIGKILL\).*restarting in \d+ ms/.test(l.msg)));
  });

  it('stops with SIGTERM, then SIGKILL after stopTimeout, and takes what it started along', async () => {
    const h = harness();
    const stubborn = h.service('stubborn', `${node} service.mjs {socket}`, { env: { IGNORE_TERM: '1', GRANDCHILD: '1' }, stopTimeoutMs: 300 });
    await h.manager.start(h.plan(stubborn), h.env);
    const pid = h.manager.status()[0]!.pid!;
    const line = await waitFor(() => h.lines.find((l) => l.msg?.startsWith('grandchild ')), { what: 'the grandchild' });
    const grandchild = Number(line.msg.split(' ')[1]);
    await h.manager.stop();
    assert.ok(h.lines.some((l) => l.msg === 'ignoring SIGTERM'));
    assert.ok(h.lines.some((l) => /did not stop within 0.3 s of SIGTERM; killing it/.test(l.msg)));
    assert.equal(isAlive(pid), false);
    await waitFor(() => !isAlive(grandchild), { what: 'the grandchild to be gone' });
    assert.deepEqual(h.manager.status(), []);
  });

  it('fails the start with an error naming the command when the program does not exist', async () => {
    const h = harness();
    const ok = h.service('ok', `${node} service.mjs {socket}`);
    const missing = h.service('django', 'gunicorn-not-installed mysite.wsgi --bind unix:{socket}');
    await assert.rejects(h.manager.start(h.plan(ok, missing), h.env), (error: KirinError) => {
      assert.equal(error.code, 'KIRIN_ERR_SERVICE');
      assert.match(error.message, /service "django": cannot start `gunicorn-not-installed mysite.wsgi --bind unix:\{socket\}`: the program "gunicorn-not-installed" was not found/);
      return true;
    });
    // The one that had started is stopped again.
    assert.deepEqual(h.manager.status(), []);
  });

  it('names a working folder that does not exist', async () => {
    const h = harness();
    const web = h.service('web', `${node} service.mjs {socket}`, { cwd: join(h.dir, 'nope') });
    await assert.rejects(h.manager.start(h.plan(web), h.env), /its working folder .*nope does not exist/);
  });

  it('on reload keeps unchanged services and their ports, restarts changed ones, starts new and stops removed ones', async () => {
    const h = harness();
    const keep = h.service('keep', `${node} service.mjs {port}`);
    const change = h.service('change', `${node} service.mjs {socket}`, { env: { GREETING: 'one' } });
    const drop = h.service('drop', `${node} service.mjs {socket}`);
    const first = h.plan(keep, change, drop);
    await h.manager.start(first, h.env);
    const pids = Object.fromEntries(h.manager.status().map((s) => [s.name, s.pid]));
    const keptPort = first.services.keep!.port;

    const next = h.plan(
      h.service('keep', `${node} service.mjs {port}`),
      h.service('change', `${node} service.mjs {socket}`, { env: { GREETING: 'two' } }),
      h.service('added', `${node} service.mjs {socket}`),
    );
    await h.manager.update(next, h.env);
    const after = Object.fromEntries(h.manager.status().map((s) => [s.name, s]));
    assert.deepEqual(Object.keys(after).sort(), ['added', 'change', 'keep']);
    assert.equal(after.keep!.pid, pids.keep);
    assert.equal(next.services.keep!.port, keptPort);
    assert.notEqual(after.change!.pid, pids.change);
    assert.equal(after.added!.state, 'running');
    assert.equal(isAlive(pids.drop!), false);
    assert.equal(isAlive(pids.change!), false);
    assert.ok(existsSync(next.services.added!.socket!));
  });
});
