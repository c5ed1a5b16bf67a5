/**
 * The master's loop in milliseconds, in the manner of Gunicorn's
 * tests/test_arbiter.py: workers are fakes the test drives (ready, heartbeat,
 * exit) and time is a clock the test moves; the loop, listeners, control socket
 * and services are real. test/e2e/process-supervision.test.ts proves the same
 * over real processes.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ServePlan } from '../../src/config/plan.ts';
import { normalizeConfig } from '../../src/config/normalize.ts';
import { ExitCode, KirinError } from '../../src/errors.ts';
import { Master, type MasterSignal, type PlanLoader } from '../../src/master/master.ts';
import { SystemdNotifier } from '../../src/master/systemd.ts';
import { createLogger } from '../../src/observe/log.ts';
import { request } from '../support/http.ts';
import { tempDir } from '../support/kirin.ts';
import { isAlive } from '../support/process.ts';
import { FakeClock, FakeSpawner, type FakeWorker } from './fakes.ts';

interface Line {
  level: string;
  msg: string;
  [key: string]: unknown;
}

/** A slow config evaluation the test finishes (or that ends when the master abandons it). */
class PendingLoad {
  resolve!: (value: { plan: ServePlan; env: NodeJS.ProcessEnv }) => void;
  reject!: (error: Error) => void;
  abandoned = false;
  readonly promise: Promise<{ plan: ServePlan; env: NodeJS.ProcessEnv }>;
  constructor(signal: AbortSignal) {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    signal.addEventListener('abort', () => {
      this.abandoned = true;
      this.reject(new Error('abandoned'));
    });
  }
}

const SERVICE = `
import http from 'node:http';
http.createServer((req, res) => res.end(process.env.GREETING + ' ' + process.pid)).listen(Number(process.argv[2]), '127.0.0.1');
`;

function harness(options: { workers?: number; config?: Record<string, unknown>; faultOnSignal?: MasterSignal } = {}) {
  const dir = tempDir('kirin-master-');
  writeFileSync(join(dir, 'service.mjs'), SERVICE);
  const lines: Line[] = [];
  const logger = createLogger({ level: 'debug', role: 'master', pretty: false, destination: { write: (line: string) => void lines.push(JSON.parse(line) as Line) } });
  const makePlan = (config: Record<string, unknown> = {}): ServePlan =>
    normalizeConfig({
      raw: { workers: options.workers ?? 2, listen: { http: ['127.0.0.1:0'] }, stateDir: join(dir, 'state'), admin: false, sites: { '*': { '/': { respond: 'hi' } } }, ...options.config, ...config },
      file: null,
      cwd: dir,
      env: {},
    });
  const loads: PendingLoad[] = [];
  const loadPlan: PlanLoader = (signal) => {
    const load = new PendingLoad(signal);
    loads.push(load);
    return load.promise;
  };
  const clock = new FakeClock();
  const spawner = new FakeSpawner();
  const master = new Master({
    plan: makePlan(),
    env: { PATH: process.env.PATH },
    logger,
    loadPlan,
    notifier: new SystemdNotifier({}, logger),
    spawnWorker: spawner.spawn,
    clock,
    ownProcess: false,
    faultOnSignal: options.faultOnSignal ?? null,
  });
  const events: string[] = [];
  for (const event of ['starting', 'booted', 'reload', 'finishing', 'stopped', 'worker-restart'] as const) master.on(event, (...args: unknown[]) => events.push([event, ...args].join(' ')));

  /** Starts the master and makes the first generation ready. */
  async function boot(): Promise<FakeWorker[]> {
    const started = master.start();
    const first = await until(() => (spawner.alive(1).length === master.plan.workers ? spawner.alive(1) : null), 'the first generation to spawn');
    for (const worker of first) worker.ready();
    await started;
    return first;
  }

  /** Stops the master if a test left it running, so no socket or service outlives the test. */
  async function shutdown(): Promise<number> {
    master.stop('fast');
    return master.stopped;
  }

  return { dir, lines, master, spawner, clock, loads, events, makePlan, boot, shutdown, log: (text: string) => lines.find((l) => l.msg.includes(text)) };
}

/** Polls (real time, a tick at a time) until `check` gives a value; the loop runs in between. */
async function until<T>(check: () => T | null | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Lets every queued event and continuation run: a few turns of the event loop. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('the master: boot', () => {
  it('starts the first generation, tells extensions it booted, and sends each worker its plan and slot', async () => {
    const h = harness();
    const workers = await h.boot();
    assert.deepEqual(
      workers.map((w) => [w.generation, w.index]),
      [
        [1, 1],
        [1, 2],
      ],
    );
    for (const worker of workers) {
      const init = worker.sent[0]!;
      assert.equal(init.t, 'init');
      assert.equal(init.t === 'init' && init.listeners.length, 1);
    }
    assert.deepEqual(h.events, ['starting', 'booted']);
    assert.equal(h.master.healthy, true);
    assert.equal(await h.shutdown(), ExitCode.OK);
  });

  it('a worker that cannot load the app halts the start with its exit code instead of respawning (Gunicorn APP_LOAD_ERROR)', async () => {
    const h = harness();
    const started = h.master.start();
    const [broken, other] = await until(() => (h.spawner.alive(1).length === 2 ? h.spawner.alive(1) : null), 'the first generation');
    broken!.failBoot(ExitCode.APP_LOAD_ERROR, 'app.ts threw: boom');
    await assert.rejects(started, (error: KirinError) => {
      assert.equal(error.code, 'KIRIN_ERR_APP_LOAD');
      assert.equal(error.exitCode, ExitCode.APP_LOAD_ERROR);
      assert.equal(error.message, 'app.ts threw: boom');
      return true;
    });
    assert.equal(await h.master.stopped, ExitCode.APP_LOAD_ERROR);
    assert.deepEqual(other!.signals, ['SIGKILL']);
    assert.equal(h.spawner.workers.length, 2, 'no worker was started again');
    assert.ok(!h.events.includes('booted'));
  });

  it('TERM while the first services start stops at once and exits 0', async () => {
    const h = harness({ config: { services: { api: { command: `${process.execPath} -e setInterval(()=>{},1000) {port}`, readyTimeout: '30s' } } } });
    const started = h.master.start();
    await until(() => h.log('service api started'), 'the service to start');
    h.master.signal('SIGTERM');
    await started;
    assert.equal(await h.master.stopped, ExitCode.OK);
    assert.equal(h.spawner.workers.length, 0);
    const pid = Number(/pid (\d+)/.exec(h.log('service api started')!.msg)![1]);
    assert.equal(isAlive(pid), false);
  });
});

describe('the master: crashes', () => {
  it('replaces a crashed worker at once, then backs off 100 ms, 200 ms … while they keep crashing', async () => {
    const h = harness({ workers: 1 });
    const [first] = await h.boot();
    first!.exit(1, null);
    const second = await until(() => h.spawner.alive(1)[0], 'the first replacement');
    assert.equal(h.clock.now(), 1_000_000, 'the first crash is replaced without waiting');
    assert.match(h.log('died (code 1)')!.msg, /^worker 1\.1 \(pid \d+\) died \(code 1\) after 0\.0 s\. Starting a new one$/);

    second.ready();
    second.exit(null, 'SIGKILL');
    await until(() => h.log('Perhaps out of memory? Starting a new one in 100 ms'), 'the second crash');
    await settle();
    assert.equal(h.spawner.alive().length, 0, 'no new worker before the backoff');
    h.clock.advance(99);
    await settle();
    assert.equal(h.spawner.alive().length, 0);
    h.clock.advance(1);
    const third = await until(() => h.spawner.alive(1)[0], 'the replacement after 100 ms');

    third.ready();
    third.exit(1, null);
    await until(() => h.log('Starting a new one in 200 ms'), 'the third crash, with a doubled backoff');
    h.clock.advance(200);
    const fourth = await until(() => h.spawner.alive(1)[0], 'the replacement after 200 ms');

    // A worker that ran 30 s has proven itself: its crash is replaced at once again.
    fourth.ready();
    h.clock.advance(31_000);
    fourth.heartbeat();
    fourth.exit(1, null);
    await until(() => h.spawner.alive(1)[0], 'an immediate replacement after a stable run');
    assert.equal(h.master.status().restarts.crash, 4);
    await h.shutdown();
  });

  it('kills a worker whose heartbeat stopped for longer than the timeout (WORKER TIMEOUT), naming what blocked it, and replaces it', async () => {
    const h = harness({ workers: 1, config: { timeout: '10s' } });
    const [hung] = await h.boot();
    hung!.obedient = false;
    h.clock.advance(9_000);
    hung!.stall(['GET example.test/report (running now)'], ['renderReport (/srv/app/report.ts:41:11)']);
    h.clock.advance(2_001);
    await until(() => hung!.signals.includes('SIGKILL'), 'the watchdog');
    assert.equal(h.log('WORKER TIMEOUT')!.msg, `WORKER TIMEOUT: worker 1.1 (pid ${hung!.pid}) blocked its event loop for more than 10 s while handling GET example.test/report (running now); killing it\n    at renderReport (/srv/app/report.ts:41:11)`);
    await until(() => h.spawner.alive(1)[0], 'the replacement');
    assert.equal(h.master.status().restarts.watchdog, 1);
    await h.shutdown();
  });

  it('asks a silent worker what blocks it once per silence, a heartbeat interval after 2 s before the timeout', async () => {
    const h = harness({ workers: 1, config: { timeout: '10s' } });
    const [hung] = await h.boot();
    h.clock.advance(8_900);
    await settle();
    assert.deepEqual(hung!.stallReportsAsked, [], 'a worker one heartbeat late is not suspected yet');
    h.clock.advance(250);
    await until(() => hung!.stallReportsAsked.length === 1, 'the question');
    assert.ok(hung!.stallReportsAsked[0]! > 9_000, `asked after 9 s of silence: ${hung!.stallReportsAsked[0]}`);
    h.clock.advance(500);
    await settle();
    assert.equal(hung!.stallReportsAsked.length, 1, 'asked once in one silence');
    hung!.heartbeat();
    h.clock.advance(9_250);
    await until(() => hung!.stallReportsAsked.length === 2, 'the question in the next silence');
    await h.shutdown();
  });

  it("gives a hung worker's late watchdog report 2 s more, then kills it anyway", async () => {
    const h = harness({ workers: 1, config: { timeout: '10s' } });
    const [hung] = await h.boot();
    hung!.obedient = false;
    h.clock.advance(11_001);
    await settle();
    assert.deepEqual(hung!.signals, [], 'waits for the report');
    h.clock.advance(2_000);
    await until(() => hung!.signals.includes('SIGKILL'), 'the watchdog');
    assert.match(h.log('WORKER TIMEOUT')!.msg, /more than 10 s while handling no request known \(blocked outside JavaScript, or in a timer\); killing it$/);
    await h.shutdown();
  });

  it('a listener that throws is logged and the supervision goes on', async () => {
    const h = harness({ workers: 1 });
    h.master.on('worker-restart', () => {
      throw new Error('a broken extension');
    });
    const [first] = await h.boot();
    first!.exit(1, null);
    await until(() => h.spawner.alive(1)[0], 'the replacement');
    assert.match(h.log('a broken extension')!.msg, /a listener of the master's "worker-restart" event failed: a broken extension/);
    await h.shutdown();
  });
});

describe('the master: reload', () => {
  it('swaps generations: the new one starts beside the old, which drains only once every new worker is ready', async () => {
    const h = harness();
    const old = await h.boot();
    const reloading = h.master.reload();
    const load = await until(() => h.loads[0], 'the config evaluation');
    load.resolve({ plan: h.makePlan({ workers: 3 }), env: {} });
    const fresh = await until(() => (h.spawner.alive(2).length === 3 ? h.spawner.alive(2) : null), 'generation 2');
    fresh[0]!.ready();
    fresh[1]!.ready();
    await settle();
    assert.ok(!old.some((w) => w.drained), 'the old generation serves until all of the new one is ready');
    fresh[2]!.ready();
    assert.deepEqual(await reloading, { ok: true, generation: 2 });
    assert.ok(old.every((w) => w.drained));
    await until(() => old.every((w) => w.exited), 'the old generation to exit');
    assert.equal(h.master.status().generation, 2);
    assert.equal(h.master.status().targetWorkers, 3);
    assert.deepEqual(h.events, ['starting', 'booted', 'reload true']);
    await h.shutdown();
  });

  it('a new generation that fails is rolled back: the old one keeps serving, and the services are as they were', async () => {
    const node = process.execPath;
    const h = harness({ config: { services: { api: { command: `${node} service.mjs {port}`, env: { GREETING: 'one' } } } } });
    const old = await h.boot();
    const [before] = h.master.status().services;
    const port = h.master.plan.services.api!.port;
    const reloading = h.master.reload();
    const load = await until(() => h.loads[0], 'the config evaluation');
    // The new config changes the service: a new one starts beside the running one.
    load.resolve({ plan: h.makePlan({ services: { api: { command: `${node} service.mjs {port}`, env: { GREETING: 'two' } } } }), env: { PATH: process.env.PATH } });
    const [broken] = await until(() => (h.spawner.alive(2).length === 2 ? h.spawner.alive(2) : null), 'generation 2');
    const newService = Number(/pid (\d+)/.exec(h.lines.filter((l) => l.msg.startsWith('service api started')).at(-1)!.msg)![1]);
    assert.notEqual(newService, before!.pid);
    broken!.failBoot(ExitCode.APP_LOAD_ERROR, 'app.ts threw: broken release');

    assert.deepEqual(await reloading, { ok: false, generation: 1, error: 'app.ts threw: broken release' });
    assert.ok(h.spawner.alive(2).length === 0 || h.spawner.alive(2).every((w) => w.signals.includes('SIGKILL')));
    assert.ok(old.every((w) => !w.drained && !w.exited), 'the old generation never stopped');
    assert.equal(h.master.status().generation, 1);
    assert.deepEqual(h.master.status().services, [before]);
    await until(() => !isAlive(newService), "the new generation's service to stop");
    assert.equal((await request(`http://127.0.0.1:${port}/`)).body, `one ${before!.pid}`);
    assert.deepEqual(h.events, ['starting', 'booted', 'reload false app.ts threw: broken release']);
    await h.shutdown();
    assert.equal(isAlive(before!.pid!), false);
  });

  it('while the config is being evaluated, crashes are replaced, hung workers killed and TTIN/TTOU handled, each in one pass', async () => {
    const h = harness({ config: { timeout: '10s' } });
    const [a, b] = await h.boot();
    void h.master.reload();
    await until(() => h.loads[0], 'the slow config evaluation');

    a!.exit(null, 'SIGKILL');
    const replacement = await until(() => h.spawner.alive(1).find((w) => w !== b), 'the crashed worker to be replaced');
    replacement.ready();

    h.master.signal('SIGTTIN');
    const third = await until(() => h.spawner.alive(1).find((w) => w.index === 3), 'a third worker');
    third.ready();
    h.master.signal('SIGTTOU');
    await until(() => third.exited && third.drained, 'SIGTTOU to drain the third worker');

    b!.obedient = false;
    h.clock.advance(5_000);
    replacement.heartbeat();
    b!.stall(['GET /hang (running now)'], []);
    h.clock.advance(6_001);
    await until(() => b!.signals.includes('SIGKILL'), 'the hung worker to be killed');
    assert.equal(h.loads.length, 1);
    assert.equal(h.loads[0]!.abandoned, false, 'the reload is still being evaluated');
    await h.shutdown();
  });

  it('TERM during a slow reload abandons it and stops cleanly: exit 0, no worker left', async () => {
    const h = harness();
    const old = await h.boot();
    const reloading = h.master.reload();
    const load = await until(() => h.loads[0], 'the slow config evaluation');
    h.master.signal('SIGTERM');
    await until(() => old.every((w) => w.drained), 'the workers to be told to drain');
    assert.equal(load.abandoned, true, 'the config evaluation is abandoned');
    assert.deepEqual(await reloading, { ok: false, generation: 1, error: 'the master is stopping' });
    assert.equal(await h.master.stopped, ExitCode.OK);
    assert.equal(h.spawner.alive().length, 0);
    assert.deepEqual(h.events.slice(-3), ['reload false the master is stopping', 'finishing', 'stopped 0']);
  });

  it('a config that fails to load leaves everything as it was', async () => {
    const h = harness();
    const old = await h.boot();
    const reloading = h.master.reload();
    (await until(() => h.loads[0], 'the config evaluation')).reject(new Error('kirin.config.ts: failed to load: SyntaxError'));
    assert.deepEqual(await reloading, { ok: false, generation: 1, error: 'kirin.config.ts: failed to load: SyntaxError' });
    assert.equal(h.spawner.workers.length, 2);
    assert.ok(old.every((w) => !w.drained));
    await h.shutdown();
  });
});

describe('the master: the catch-all', () => {
  it('an error inside the loop stops workers and services and exits with INTERNAL_ERROR (70)', async () => {
    const h = harness({ faultOnSignal: 'SIGUSR1', config: { services: { api: { command: `${process.execPath} service.mjs {port}` } } } });
    const workers = await h.boot();
    const service = h.master.status().services[0]!.pid!;
    for (const worker of workers) worker.obedient = false;
    h.master.signal('SIGUSR1');
    await until(() => workers.every((w) => w.signals.includes('SIGQUIT')), 'SIGQUIT to the workers');
    h.clock.advance(2_000);
    assert.equal(await h.master.stopped, ExitCode.INTERNAL_ERROR);
    assert.ok(workers.every((w) => w.exited && w.signals.includes('SIGKILL')));
    assert.equal(isAlive(service), false);
    const fatal = h.lines.find((l) => l.level === 'fatal')!;
    assert.equal(fatal.msg, "unhandled error in the master's loop: fault injected on SIGUSR1 (KIRIN_TEST_LOOP_FAULT); stopping the workers and services");
  });
});
