import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeAppError, describeAppStatus, type ErrorRequest } from '../../src/observe/app-errors.ts';
import { composeAlert } from '../../src/observe/alerts/message.ts';
import { IncidentWatcher, appErrorSignature, type Incident, type ObservedMaster } from '../../src/observe/incidents.ts';
import { RecentErrors } from '../../src/observe/recent-errors.ts';
import { FakeMaster, fakeWorker } from './fake-master.ts';

function watch() {
  const master = new FakeMaster();
  const watcher = new IncidentWatcher(master as unknown as ObservedMaster);
  const seen: Incident[] = [];
  watcher.on((i) => seen.push(i));
  return { master, watcher, seen };
}

function thrown(message: string): Error {
  return new Error(message);
}

describe('incidents from the master events', () => {
  it('turns a worker app-error report into an incident with stack and request', () => {
    const { master, seen } = watch();
    const report = describeAppError(
      { method: 'GET', scheme: 'http', authority: 'a.test', encodedPath: '/boom', query: '', clientIp: '127.0.0.1', req: { headers: { cookie: 'x=1' } }, site: { plan: { key: 'a.test' } }, route: { plan: { at: 'sites["a.test"]["/"]' } } },
      thrown('kaboom'),
    );
    master.emit('worker-event:app-error', fakeWorker(77), JSON.parse(JSON.stringify(report)));
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.kind, 'app-error');
    assert.equal(seen[0]!.title, 'GET /boom → Error: kaboom');
    assert.match(seen[0]!.detail, /Error: kaboom\n\s+at /);
    assert.match(seen[0]!.detail, /Request: GET http:\/\/a\.test\/boom/);
    assert.match(seen[0]!.detail, /cookie: \[removed\]/);
    assert.match(seen[0]!.detail, /pid 77/);
  });

  it('turns a 5xx the app answered itself into an incident with the request and no stack, one per status and path', () => {
    const { master, seen } = watch();
    const on = (path: string): ErrorRequest => ({ method: 'POST', scheme: 'https', authority: 'a.test', encodedPath: path, query: '?x=1', clientIp: '127.0.0.1', req: { headers: {} }, site: { plan: { key: 'a.test' } }, route: { plan: { at: 'sites["a.test"]["/"]' } } });
    for (const report of [describeAppStatus(on('/orders/42'), 503), describeAppStatus(on('/orders/43'), 503), describeAppStatus(on('/orders/43'), 500)]) {
      master.emit('worker-event:app-error', fakeWorker(77), JSON.parse(JSON.stringify(report)));
    }
    assert.equal(seen[0]!.title, 'POST /orders/42?x=1 → 503 Service Unavailable, answered by the app');
    assert.match(seen[0]!.detail, /^The app answered 503 Service Unavailable itself .* no stack/);
    assert.doesNotMatch(seen[0]!.detail, /^\s+at /m);
    assert.match(seen[0]!.detail, /Request: POST https:\/\/a\.test\/orders\/42\?x=1\n/);
    assert.equal(seen[0]!.signature, seen[1]!.signature, 'ids in the path aside, the same error');
    assert.notEqual(seen[1]!.signature, seen[2]!.signature, 'another status is another error');
    assert.equal(composeAlert(seen[0]!, { heldBack: 0, heldBackByHourlyLimit: 0, windowMs: 600_000, perHour: 30, host: 'web1' }).subject, '[Kirin web1] Error 503: POST /orders/42?x=1 → 503 Service Unavailable, answered by the app');
  });

  it('gives the same error from the same line one signature, whatever the ids in its message', () => {
    const make = (id: number) => {
      const e = new Error(`order ${id} not found`);
      return { name: e.name, message: e.message, stack: e.stack!.replace(/order \d+/, `order ${id}`) };
    };
    const errors = [1, 2].map((id) => make(id));
    assert.equal(appErrorSignature(errors[0]!), appErrorSignature(errors[1]!));
    const other = thrown('other');
    assert.notEqual(appErrorSignature(errors[0]!), appErrorSignature({ name: other.name, message: other.message, stack: other.stack! }));
  });

  it('ignores payloads that are not reports', () => {
    const { master, seen } = watch();
    master.emit('worker-event:app-error', fakeWorker(1), { nope: true });
    assert.equal(seen.length, 0);
  });

  it('reports a crashed worker, a hung one, a failed reload and a crash loop', () => {
    const { master, seen } = watch();
    master.emit('worker-exit', fakeWorker(5));
    master.emit('worker-restart', 'crash');
    master.emit('worker-exit', fakeWorker(6, { exitSignal: 'SIGKILL', lastStall: { requests: ['GET /slow'], stack: ['spin (app.ts:3:1)'], blockedMs: 40000, at: 0 } }));
    master.emit('worker-restart', 'watchdog');
    master.emit('worker-restart', 'max-requests');
    master.emit('reload', false);
    master.emit('crash-loop', 10);
    assert.deepEqual(seen.map((i) => i.kind), ['worker-crash', 'worker-hung', 'reload-failed', 'crash-loop']);
    assert.match(seen[0]!.title, /pid 5\) died, signal SIGKILL/);
    assert.match(seen[1]!.detail, /GET \/slow/);
    assert.match(seen[1]!.detail, /at spin \(app\.ts:3:1\)/);
  });

  it('reads certificate-failed in the shapes the TLS manager may send', () => {
    const { master, seen } = watch();
    master.emit('certificate-failed', { names: ['a.test', 'www.a.test'], error: 'rate limited', failures: 3, retryAt: Date.UTC(2030, 0, 1) });
    master.emit('certificate-failed', new Error('no names'));
    assert.equal(seen[0]!.title, 'the certificate for a.test, www.a.test could not be obtained or renewed');
    assert.match(seen[0]!.detail, /Error: rate limited\nFailed attempts in a row: 3\nNext attempt: 2030-01-01T00:00:00\.000Z/);
    assert.match(seen[1]!.detail, /Error: no names/);
  });

  it('counts an upstream down while any live worker says so, and back when none does', () => {
    const { master, seen } = watch();
    const route = 'sites["a.test"]["/api/"]';
    const url = 'http://u:p@127.0.0.1:9001';
    master.emit('worker-event:upstream-health', fakeWorker(11), { route, url, healthy: true });
    assert.equal(seen.length, 0, 'a first healthy report is not news');
    master.emit('worker-event:upstream-health', fakeWorker(11), { route, url, healthy: false });
    master.emit('worker-event:upstream-health', fakeWorker(12), { route, url, healthy: false });
    master.emit('worker-event:upstream-health', fakeWorker(11), { route, url, healthy: true });
    assert.deepEqual(seen.map((i) => i.kind), ['upstream-down'], 'worker 12 still says down');
    const status = [...master.providers.upstreams.values()][0]!;
    assert.equal(status.url, 'http://127.0.0.1:9001', 'credentials never reach the dashboard');
    assert.equal(status.healthy, false);
    master.emit('worker-exit', fakeWorker(12));
    assert.deepEqual(seen.map((i) => i.kind), ['upstream-down', 'upstream-up'], 'the worker that said down is gone');
    assert.equal(seen[0]!.signature, seen[1]!.signature, 'down and back are the same thing');
    assert.equal([...master.providers.upstreams.values()][0]!.healthy, true);
  });

  it('lists the plan\'s upstreams as healthy until told otherwise, and drops those a reload removed', () => {
    const { master, watcher } = watch();
    watcher.start();
    assert.deepEqual([...master.providers.upstreams.values()].map((u) => [u.url, u.healthy]), [
      ['http://127.0.0.1:2', true],
      ['http://127.0.0.1:3', true],
    ]);
    master.emit('worker-event:upstream-health', fakeWorker(11), { route: 'sites["gone.test"]["/"]', url: 'http://127.0.0.1:1', healthy: false });
    master.emit('worker-event:upstream-health', fakeWorker(11), { route: 'sites["a.test"]["/api/"]', url: 'http://127.0.0.1:2', healthy: false });
    master.emit('reload', true);
    assert.deepEqual([...master.providers.upstreams.values()].map((u) => [u.url, u.healthy]), [
      ['http://127.0.0.1:2', false],
      ['http://127.0.0.1:3', true],
    ]);
  });

  it('tells a service going down and coming back, from the service manager\'s events', () => {
    const { master, seen } = watch();
    master.emit('service-ready', { name: 'django', pid: 5, upstream: 'unix:/tmp/x.sock' });
    assert.equal(seen.length, 0, 'a first start is not news');
    master.emit('service-exit', { name: 'django', pid: 5, restarts: 0, code: null, signal: 'SIGKILL', uptimeMs: 4200, restartInMs: 100 });
    master.emit('service-ready', { name: 'django', pid: 6, upstream: 'unix:/tmp/x.sock' });
    master.emit('service-failed', { name: 'queue', error: 'command not found: celery' });
    assert.deepEqual(seen.map((i) => [i.kind, i.state]), [
      ['service-down', 'down'],
      ['service-up', 'up'],
      ['service-down', 'down'],
    ]);
    assert.equal(seen[0]!.title, 'service "django" exited (signal SIGKILL); restarting it in 100 ms');
    assert.equal(seen[0]!.signature, seen[1]!.signature);
    assert.match(seen[2]!.detail, /command not found: celery/);
  });
});

describe('recent errors (the dashboard list)', () => {
  it('folds repeats into one entry, newest first, and leaves out recoveries', () => {
    const list = new RecentErrors(3);
    const incident = (signature: string, time: number, state?: 'down' | 'up'): Incident => ({ kind: 'app-error', signature, title: signature, detail: '', time, count: 1, ...(state ? { state } : {}) });
    list.add(incident('a', 1));
    list.add(incident('b', 2));
    list.add({ ...incident('a', 3), count: 5 });
    list.add(incident('c', 4, 'up'));
    assert.deepEqual(list.list().map((e) => [e.signature, e.count, e.firstSeen, e.lastSeen]), [
      ['a', 6, 1, 3],
      ['b', 1, 2, 2],
    ]);
    for (const s of ['d', 'e', 'f']) list.add(incident(s, 9));
    assert.deepEqual(list.list().map((e) => e.signature), ['f', 'e', 'd']);
  });
});
