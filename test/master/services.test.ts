/**
 * The ServiceManager with real child processes: a small Node server that
 * binds the {socket} or {port} it is given.
 */
import assert from 'node:assert/strict';
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
  const seen: { type: string; payload: Record<string, unknown> }[] = [];
  const manager = new ServiceManager(logger, (type, payload) => seen.push({ type, payload: { ...payload } }), (role) => createLogger({ level: 'info', role, pretty: false, destination }));
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

  it('on reload keeps unchanged services, starts changed ones next to the running ones, and stops the replaced and removed ones only after the old generation', async () => {
    const h = harness();
    const keep = h.service('keep', `${node} service.mjs {port}`);
    const change = h.service('change', `${node} service.mjs {socket}`, { env: { GREETING: 'one' } });
    const drop = h.service('drop', `${node} service.mjs {socket}`);
    const first = h.plan(keep, change, drop);
    await h.manager.start(first, h.env);
    const pids = Object.fromEntries(h.manager.status().map((s) => [s.name, s.pid!]));
    const keptPort = first.services.keep!.port;

    const next = h.plan(
      h.service('keep', `${node} service.mjs {port}`),
      h.service('change', `${node} service.mjs {socket}`, { env: { GREETING: 'two' } }),
      h.service('added', `${node} service.mjs {socket}`),
    );
    const prepared = await h.manager.prepare(next, h.env);
    // The new generation's plan points at the kept port and at the new instance's own socket.
    assert.equal(next.services.keep!.port, keptPort);
    assert.equal(next.services.change!.socket, join(h.dir, 'state', 'run', 'change.2.sock'));
    const fresh = await request('http://localhost/', { socketPath: next.services.change!.socket! });
    const freshPid = Number(fresh.body.replace('pid ', ''));
    assert.notEqual(freshPid, pids.change);
    // Until the commit, the running services are untouched and still answer where the old generation looks.
    assert.equal((await request('http://localhost/', { socketPath: change.socket! })).body, `pid ${pids.change}`);
    assert.ok(isAlive(pids.drop!));

    h.manager.commit(prepared);
    const after = Object.fromEntries(h.manager.status().map((s) => [s.name, s]));
    assert.deepEqual(Object.keys(after).sort(), ['added', 'change', 'keep']);
    assert.equal(after.keep!.pid, pids.keep);
    assert.equal(after.change!.pid, freshPid);
    assert.equal(after.added!.state, 'running');
    // The old generation drains with its services still there; they stop once it is gone.
    assert.ok(h.manager.hasRetired);
    assert.ok(isAlive(pids.change!) && isAlive(pids.drop!));
    await h.manager.stopRetired();
    assert.equal(isAlive(pids.drop!), false);
    assert.equal(isAlive(pids.change!), false);
    assert.equal(h.manager.hasRetired, false);
    assert.ok(existsSync(next.services.added!.socket!));

    // The next change takes the first socket name again, now that it is free.
    const third = h.plan(h.service('keep', `${node} service.mjs {port}`), h.service('change', `${node} service.mjs {socket}`, { env: { GREETING: 'three' } }));
    h.manager.commit(await h.manager.prepare(third, h.env));
    assert.equal(third.services.change!.socket, change.socket);
  });

  it('an aborted reload leaves the services as they were: same pid, same port, still answering', async () => {
    const h = harness();
    const api = h.service('api', `${node} service.mjs {port}`, { env: { GREETING: 'one' } });
    const web = h.service('web', `${node} service.mjs {socket}`);
    const first = h.plan(api, web);
    await h.manager.start(first, h.env);
    const before = h.manager.status();
    const port = first.services.api!.port;

    const next = h.plan(h.service('api', `${node} service.mjs {port}`, { env: { GREETING: 'two' } }), h.service('new', `${node} service.mjs {socket}`));
    const prepared = await h.manager.prepare(next, h.env);
    const started = prepared.started.map((s) => s.pid!);
    assert.equal(started.length, 2);
    assert.notEqual(next.services.api!.port, port);
    await h.manager.abort(prepared);

    assert.deepEqual(h.manager.status(), before);
    for (const pid of started) assert.equal(isAlive(pid), false);
    assert.equal((await request(`http://127.0.0.1:${port}/`)).body, `pid ${before[0]!.pid}`);
    assert.equal((await request('http://localhost/', { socketPath: web.socket! })).body, `pid ${before[1]!.pid}`);
  });

  it('a changed service that cannot start fails the prepare, and nothing changes', async () => {
    const h = harness();
    const api = h.service('api', `${node} service.mjs {port}`);
    await h.manager.start(h.plan(api), h.env);
    const before = h.manager.status();
    const next = h.plan(h.service('api', 'no-such-program-here {port}'), h.service('extra', `${node} service.mjs {socket}`));
    await assert.rejects(h.manager.prepare(next, h.env), /service "api": cannot start `no-such-program-here \{port\}`: the program "no-such-program-here" was not found/);
    assert.deepEqual(h.manager.status(), before);
    assert.ok(isAlive(before[0]!.pid!));
  });

  it('stop() during a prepare cancels it and stops every service, the prepared ones too', async () => {
    const h = harness();
    const api = h.service('api', `${node} service.mjs {port}`);
    await h.manager.start(h.plan(api), h.env);
    const running = h.manager.status()[0]!.pid!;
    // Never accepts on its {port}: the prepare waits for it (up to readyTimeout, 10 s here).
    const silent = h.service('silent', `${node} -e setInterval(()=>{},1000) {port}`);
    const preparing = h.manager.prepare(h.plan(h.service('api', `${node} service.mjs {port}`), silent), h.env);
    const seenStarted = await waitFor(() => h.lines.find((l) => l.msg.startsWith('service silent started (pid ')), { what: 'the new service to start' });
    const silentPid = Number(/pid (\d+)/.exec(seenStarted.msg)![1]);
    await h.manager.stop();
    await assert.rejects(preparing, /cancelled/);
    assert.equal(isAlive(running), false);
    assert.equal(isAlive(silentPid), false);
  });
});
