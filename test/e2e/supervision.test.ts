/**
 * The master keeps the site up: crashed and hung workers are replaced, stops
 * drain, the pool grows and shrinks on signals, a broken reload is rolled back.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http.ts';
import { readyPids, status } from '../support/control.ts';
import { ROOT, startKirin, tempDir, waitFor, type KirinProcess } from '../support/kirin.ts';
import { listeningPorts } from '../support/process.ts';

function project(): string {
  const dir = tempDir();
  copyFileSync(join(ROOT, 'test/fixtures/apps/pid-fetch.ts'), join(dir, 'app.ts'));
  return dir;
}

function start(dir: string, ...extra: string[]): Promise<KirinProcess> {
  return startKirin({ cwd: dir, args: ['serve', 'app.ts', '--bind', '127.0.0.1:0', '--state-dir', join(dir, 'state'), '--access-log', 'off', ...extra] });
}

describe('a worker killed with SIGKILL mid-request', () => {
  let dir: string;
  let kirin: KirinProcess;
  before(async () => {
    dir = project();
    kirin = await start(dir, '--workers', '1');
  });
  after(() => kirin.stop());

  it('fails only its in-flight request, and a new worker serves the next ones', async () => {
    const [victim] = await readyPids(kirin.stateDir);
    const inFlight = request(`${kirin.url}/slow?ms=5000`, { agent: false }).then(
      () => 'answered',
      (error: NodeJS.ErrnoException) => error.code ?? error.message,
    );
    await waitFor(async () => (await status(kirin.stateDir)).workers[0]?.inflight === 1, { what: 'the slow request to be in flight' });
    const killedAt = Date.now();
    process.kill(victim!, 'SIGKILL');
    // Sent right away: it waits in the shared socket's queue until the new worker accepts it.
    const next = await request(`${kirin.url}/`, { agent: false });
    const recoveryMs = Date.now() - killedAt;
    assert.equal(next.status, 200);
    assert.notEqual(Number(next.headers['x-worker-pid']), victim);
    assert.notEqual(await inFlight, 'answered', 'the request in flight on the killed worker cannot complete');
    console.log(`# served again ${recoveryMs} ms after SIGKILL`);
    const line = await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.includes(`pid ${victim}) died (signal SIGKILL)`), 5000, 'the crash log');
    assert.match(String(line.msg), /Perhaps out of memory\?/);
    assert.equal((await status(kirin.stateDir)).restarts.crash, 1);
  });
});

describe('an exception outside any request', () => {
  it('is logged, and the worker is replaced gracefully', async () => {
    const dir = project();
    const kirin = await start(dir, '--workers', '1');
    try {
      const [before] = await readyPids(kirin.stateDir);
      assert.equal((await request(`${kirin.url}/async-throw`)).body, 'scheduled');
      const line = await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('uncaught exception in the app'), 5000, 'the uncaught exception log');
      assert.match(JSON.stringify(line.err), /thrown outside any request/);
      await waitFor(async () => {
        const pids = await readyPids(kirin.stateDir);
        return pids.length === 1 && pids[0] !== before;
      }, { what: 'the replacement worker' });
      assert.equal((await request(`${kirin.url}/`)).status, 200);
      assert.equal((await status(kirin.stateDir)).restarts['uncaught-exception'], 1);
    } finally {
      await kirin.stop();
    }
  });
});

describe('the watchdog', () => {
  let dir: string;
  let kirin: KirinProcess;
  before(async () => {
    dir = project();
    kirin = await start(dir, '--workers', '1', '--timeout', '2');
  });
  after(() => kirin.stop());

  it('kills a worker whose event loop is blocked longer than --timeout, naming the request and the stack', async () => {
    const [hung] = await readyPids(kirin.stateDir);
    const stuck = await request(`${kirin.url}/hang`, { agent: false }).then(
      () => 'answered',
      () => 'failed',
    );
    assert.equal(stuck, 'failed');
    const line = await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('WORKER TIMEOUT'), 10_000, 'the watchdog log');
    assert.match(String(line.msg), new RegExp(`pid ${hung}\\) blocked its event loop for more than 2 s while handling GET 127\\.0\\.0\\.1/hang`));
    assert.ok((line.stack as string[]).some((frame) => frame.includes('app.ts')), `stack names the app: ${JSON.stringify(line.stack)}`);
    const next = await request(`${kirin.url}/`, { agent: false });
    assert.equal(next.status, 200);
    assert.notEqual(Number(next.headers['x-worker-pid']), hung);
    assert.equal((await status(kirin.stateDir)).restarts.watchdog, 1);
    assert.doesNotMatch(kirin.output(), /ws:\/\/|Debugger listening/, "the inspector's secret URL stays out of the log");
  });

  it('closes an inspector a stray SIGUSR1 opened in a worker, which keeps serving, and warns', async () => {
    const [worker] = await readyPids(kirin.stateDir);
    const ownPorts = listeningPorts(worker!).length;
    process.kill(worker!, 'SIGUSR1');
    const line = await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.includes("opened Node's inspector without the watchdog asking"), 10_000, 'the warning');
    assert.deepEqual([line.role, line.pid], ['master', worker], 'the master warns, naming the worker');
    await waitFor(() => listeningPorts(worker!).length === ownPorts, { what: "the worker's inspector to close" });
    const res = await request(`${kirin.url}/`, { agent: false });
    assert.equal(res.status, 200);
    assert.equal(Number(res.headers['x-worker-pid']), worker);
    assert.doesNotMatch(kirin.output(), /ws:\/\//);
  });
});

describe('SIGTERM', () => {
  it('drains: an in-flight 2-second request completes, then Kirin exits 0', async () => {
    const dir = project();
    const kirin = await start(dir, '--workers', '2');
    const slow = request(`${kirin.url}/slow?ms=2000`, { agent: false });
    await waitFor(async () => (await status(kirin.stateDir)).workers.some((w) => w.inflight === 1), { what: 'the slow request to be in flight' });
    kirin.signal('SIGTERM');
    const res = await slow;
    assert.equal(res.status, 200);
    assert.match(res.body, /^slow done/);
    const { code } = await kirin.exited;
    assert.equal(code, 0);
    await assert.rejects(request(`${kirin.url}/`, { agent: false }), /ECONNREFUSED/);
  });
});

describe('TTIN and TTOU', () => {
  it('add and remove one worker, never going below one', async () => {
    const dir = project();
    const kirin = await start(dir, '--workers', '1');
    try {
      kirin.signal('SIGTTIN');
      await waitFor(async () => (await readyPids(kirin.stateDir)).length === 2, { what: 'two workers' });
      kirin.signal('SIGTTOU');
      await waitFor(async () => (await status(kirin.stateDir)).workers.length === 1, { what: 'one worker again' });
      kirin.signal('SIGTTOU');
      await kirin.waitForLine((l) => l.msg === 'SIGTTOU: already at one worker', 5000, 'the refusal to go below one');
      assert.equal((await readyPids(kirin.stateDir)).length, 1);
      assert.equal((await request(`${kirin.url}/`)).status, 200);
    } finally {
      await kirin.stop();
    }
  });
});

describe('reload (SIGHUP)', () => {
  it('picks up new code; a new generation that throws at import is rolled back and the old one keeps serving', async () => {
    const dir = project();
    const kirin = await start(dir, '--workers', '2');
    try {
      const app = join(dir, 'app.ts');
      const original = readFileSync(app, 'utf8');
      writeFileSync(app, original.replace("'v1'", "'v2'"));
      kirin.signal('SIGHUP');
      await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('reloaded: generation 2'), 20_000, 'generation 2');
      assert.match((await request(`${kirin.url}/`, { agent: false })).body, /^v2 /);

      writeFileSync(app, `throw new Error('broken release');\n${original}`);
      kirin.signal('SIGHUP');
      const failed = await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('reload failed'), 20_000, 'the failed reload');
      assert.match(String(failed.msg), /generation 2 keeps serving: .*broken release/);
      for (let i = 0; i < 10; i++) {
        const res = await request(`${kirin.url}/`, { agent: false });
        assert.equal(res.status, 200);
        assert.match(res.body, /^v2 /);
      }
      assert.equal((await status(kirin.stateDir)).generation, 2);
    } finally {
      await kirin.stop();
    }
  });
});
