/**
 * The master never stops supervising, over real processes: a reload whose
 * config takes 5 s to evaluate does not hold up the replacement of a killed
 * worker or a TERM; a failed reload leaves the services as they were; an error
 * inside the loop halts with its exit code; and a master killed with SIGKILL
 * leaves nothing behind, so the next one binds the same port at once.
 * (test/master/master.test.ts covers the same ground in milliseconds with fakes.)
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ExitCode } from '../../src/errors.ts';
import { status } from '../support/control.ts';
import { request } from '../support/http.ts';
import { freePort, ROOT, startKirin, tempDir, waitFor, type KirinProcess } from '../support/kirin.ts';
import { isAlive } from '../support/process.ts';

const SERVICE = `
import http from 'node:http';
http.createServer((req, res) => res.end(process.env.GREETING + ' from ' + process.pid)).listen(Number(process.argv[2]), '127.0.0.1');
`;

interface Setup {
  /** The config's evaluation waits this long (a top-level await), as a slow kirin.config.ts would. */
  slowMs?: number;
  greeting?: string;
  app?: string;
  bind?: string;
}

/** kirin.config.ts: two workers of pid-fetch.ts, a {port} service behind api.test. */
function writeProject(dir: string, setup: Setup = {}): void {
  const config = {
    workers: 2,
    listen: { http: [setup.bind ?? '127.0.0.1:0'] },
    stateDir: join(dir, 'state'),
    admin: false,
    accessLog: false,
    services: { api: { command: `${JSON.stringify(process.execPath)} service.mjs {port}`, env: { GREETING: setup.greeting ?? 'hello' } } },
    sites: { 'api.test': { '/': { proxy: { service: 'api' } } }, '*': { '/': { app: setup.app ?? './app.ts' } } },
  };
  writeFileSync(join(dir, 'kirin.config.ts'), `await new Promise((resolve) => setTimeout(resolve, ${setup.slowMs ?? 0}));\nexport default ${JSON.stringify(config, null, 2)};\n`);
}

function project(setup: Setup = {}): string {
  const dir = tempDir();
  copyFileSync(join(ROOT, 'test/fixtures/apps/pid-fetch.ts'), join(dir, 'app.ts'));
  writeFileSync(join(dir, 'broken.ts'), "throw new Error('broken release');\n");
  writeFileSync(join(dir, 'service.mjs'), SERVICE);
  writeProject(dir, setup);
  return dir;
}

/** Every process of the tree below the master: workers and services. */
async function children(kirin: KirinProcess): Promise<number[]> {
  const now = await status(kirin.stateDir);
  return [...now.workers.map((w) => w.pid), ...now.services.map((s) => s.pid!)];
}

const line = (prefix: string) => (l: { msg?: unknown }) => typeof l.msg === 'string' && l.msg.startsWith(prefix);

describe('while a reload evaluates a slow config (5 s)', () => {
  it('a worker killed with SIGKILL is replaced at once, and the reload still completes', async () => {
    const dir = project();
    const kirin = await startKirin({ cwd: dir, args: ['serve'] });
    try {
      const [victim, other] = (await status(kirin.stateDir)).workers.map((w) => w.pid);
      writeProject(dir, { slowMs: 5000 });
      kirin.signal('SIGHUP');
      await kirin.waitForLine(line('SIGHUP: reloading'), 5000, 'the reload to begin');
      const killedAt = Date.now();
      process.kill(victim!, 'SIGKILL');
      // The master's part: reap the dead worker and spawn its replacement, within one pass of the loop.
      const replacement = await waitFor(
        async () => (await status(kirin.stateDir)).workers.find((w) => w.generation === 1 && w.pid !== victim && w.pid !== other),
        { what: 'a replacement for the killed worker', timeoutMs: 3000, intervalMs: 20 },
      );
      console.log(`# replacement spawned ${Date.now() - killedAt} ms after SIGKILL, during the config evaluation`);
      assert.ok(!kirin.lines.some(line('reloaded:')), 'replaced while the slow reload was still being evaluated: the loop did not wait for it');
      // Then the worker's part: boot and serve (its own start-up time, longer on a busy machine).
      await waitFor(async () => (await status(kirin.stateDir)).workers.find((w) => w.pid === replacement.pid)?.state === 'ready', { what: 'the replacement to be ready', timeoutMs: 15_000 });
      console.log(`# replacement ready ${Date.now() - killedAt} ms after SIGKILL`);
      assert.match((await request(`${kirin.url}/`, { agent: false })).body, /^v1 /);
      await kirin.waitForLine(line('reloaded: generation 2'), 20_000, 'the slow reload to finish');
      assert.equal((await status(kirin.stateDir)).generation, 2);
    } finally {
      await kirin.stop();
    }
  });

  it('TERM stops cleanly: exit 0, no worker or service left', async () => {
    const dir = project();
    const kirin = await startKirin({ cwd: dir, args: ['serve'] });
    const pids = await children(kirin);
    writeProject(dir, { slowMs: 5000 });
    kirin.signal('SIGHUP');
    await kirin.waitForLine(line('SIGHUP: reloading'), 5000, 'the reload to begin');
    const termAt = Date.now();
    kirin.signal('SIGTERM');
    const { code } = await kirin.exited;
    console.log(`# exited ${Date.now() - termAt} ms after TERM, with the config evaluation abandoned`);
    assert.equal(code, 0);
    assert.ok(kirin.lines.some(line('reload failed, generation 1 keeps serving: the master is stopping')));
    for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} outlived the master`);
  });
});

describe('a failed reload', () => {
  it('leaves the services as they were: same pid, same port, still answering', async () => {
    const dir = project();
    const kirin = await startKirin({ cwd: dir, args: ['serve'] });
    try {
      const [before] = (await status(kirin.stateDir)).services;
      const viaProxy = (await request(`${kirin.url}/`, { headers: { host: 'api.test' }, agent: false })).body;
      assert.equal(viaProxy, `hello from ${before!.pid}`);
      // The new release changes the service and breaks the app: the new service starts, then the new generation fails.
      writeProject(dir, { greeting: 'bonjour', app: './broken.ts' });
      kirin.signal('SIGHUP');
      const failed = await kirin.waitForLine(line('reload failed'), 20_000, 'the failed reload');
      assert.match(String(failed.msg), /generation 1 keeps serving: .*broken release/);
      const started = kirin.lines.filter(line('service api started')).map((l) => Number(/pid (\d+)/.exec(String(l.msg))![1]));
      assert.equal(started.length, 2, 'the changed service was started beside the running one');
      await waitFor(() => !isAlive(started[1]!), { what: "the failed generation's service to stop" });

      const [after] = (await status(kirin.stateDir)).services;
      assert.deepEqual(after, before);
      assert.equal((await request(`http://${before!.upstream}/`)).body, `hello from ${before!.pid}`);
      assert.equal((await request(`${kirin.url}/`, { headers: { host: 'api.test' }, agent: false })).body, `hello from ${before!.pid}`);
      assert.match((await request(`${kirin.url}/`, { agent: false })).body, /^v1 /);
    } finally {
      await kirin.stop();
    }
  });
});

describe('an error inside the loop', () => {
  it('halts with exit code 70 (INTERNAL_ERROR), and no worker or service is left', async () => {
    const dir = project();
    // KIRIN_TEST_LOOP_FAULT makes the loop throw when it handles that signal (see src/cli/serve.ts).
    const kirin = await startKirin({ cwd: dir, args: ['serve'], env: { KIRIN_TEST_LOOP_FAULT: 'SIGUSR1' } });
    const pids = await children(kirin);
    kirin.signal('SIGUSR1');
    const { code } = await kirin.exited;
    assert.equal(code, ExitCode.INTERNAL_ERROR);
    const fatal = kirin.lines.find((l) => l.level === 'fatal');
    assert.equal(fatal?.msg, "unhandled error in the master's loop: fault injected on SIGUSR1 (KIRIN_TEST_LOOP_FAULT); stopping the workers and services");
    for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} outlived the master`);
  });
});

describe('a master killed with SIGKILL', () => {
  it('leaves no worker or service behind, and a new master binds the same port within 2 s', async () => {
    const port = await freePort();
    const dir = project({ bind: `127.0.0.1:${port}` });
    const kirin = await startKirin({ cwd: dir, args: ['serve'] });
    const pids = await children(kirin);
    kirin.signal('SIGKILL');
    const killedAt = Date.now();
    await kirin.exited;
    await waitFor(() => canBind(port), { what: `port ${port} to be free`, timeoutMs: 2000, intervalMs: 20 });
    console.log(`# port free ${Date.now() - killedAt} ms after the master's SIGKILL`);
    await waitFor(() => pids.every((pid) => !isAlive(pid)), { what: 'the workers and the service to exit', timeoutMs: 5000 });

    const next = await startKirin({ cwd: dir, args: ['serve'] });
    try {
      assert.equal(next.url, `http://127.0.0.1:${port}`);
      assert.match((await request(`${next.url}/`, { agent: false })).body, /^v1 /);
      assert.match((await request(`${next.url}/`, { headers: { host: 'api.test' }, agent: false })).body, /^hello from \d+$/);
    } finally {
      await next.stop();
    }
  });
});

describe('a master killed with SIGKILL while a worker is blocked', () => {
  it('takes the blocked worker down too: it never hears its IPC channel close', async () => {
    const dir = project({ app: './hang.ts' });
    const marker = join(dir, 'blocked.pid');
    writeFileSync(
      join(dir, 'hang.ts'),
      `import { writeFileSync } from 'node:fs';
export default {
  fetch(request: Request) {
    if (new URL(request.url).pathname === '/hang') {
      writeFileSync(${JSON.stringify(marker)}, String(process.pid));
      for (;;) {}
    }
    return new Response('v1 ' + process.pid);
  },
};
`,
    );
    const kirin = await startKirin({ cwd: dir, args: ['serve'] });
    const pids = await children(kirin);
    const socket = connect(Number(new URL(kirin.url).port), '127.0.0.1');
    socket.on('error', () => {});
    socket.end('GET /hang HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const blocked = await waitFor(() => (existsSync(marker) ? Number(readFileSync(marker, 'utf8')) : undefined), { what: 'a worker to block its event loop' });
    assert.ok(pids.includes(blocked));
    kirin.signal('SIGKILL');
    await kirin.exited;
    await waitFor(() => pids.every((pid) => !isAlive(pid)), { what: 'the blocked worker, the other worker and the service to exit', timeoutMs: 10_000 });
    socket.destroy();
  });
});

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
