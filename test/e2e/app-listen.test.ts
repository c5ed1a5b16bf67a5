/**
 * `kirin serve server.js` where server.js calls listen() itself — Express's
 * `app.listen(3000)`, a plain `http.createServer(…).listen(process.env.PORT)`,
 * Fastify's `await fastify.listen()`, Koa's `app.listen()`, Socket.IO's `io.listen()`, an ESM app with top-level await, NestJS's
 * un-awaited `bootstrap()` — served by real Kirin masters and workers, with the
 * apps' packages installed from npm.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { metric, startWithAdmin } from '../support/admin.ts';
import { request } from '../support/http.ts';
import { freePort, portOf, ROOT, startKirin, tempDir, waitFor, writeFiles, type KirinProcess, type LogLine } from '../support/kirin.ts';

const APPS = join(ROOT, 'test/fixtures/apps/listen');

function start(app: string, options: { workers?: number; env?: NodeJS.ProcessEnv; args?: string[]; waitReady?: boolean } = {}): Promise<KirinProcess> {
  const args = ['serve', app, '--workers', String(options.workers ?? 1), '--bind', '127.0.0.1:0', '--state-dir', tempDir(), ...(options.args ?? [])];
  return startKirin({ cwd: APPS, args, env: options.env, waitReady: options.waitReady });
}

async function serving(app: string, check: (kirin: KirinProcess) => Promise<void>, options: Parameters<typeof start>[1] = {}): Promise<void> {
  const kirin = await start(app, options);
  try {
    await check(kirin);
  } finally {
    await kirin.stop();
  }
}

const says = (kirin: KirinProcess, needle: string): LogLine[] => kirin.lines.filter((line) => String(line.msg).includes(needle));
const rawLines = (kirin: KirinProcess, needle: string): string[] => kirin.output().split('\n').filter((line) => line.includes(needle));

/** Whether anything accepts connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('apps that call listen() themselves', () => {
  describe('Express calling app.listen(3000), two workers', () => {
    let kirin: KirinProcess;
    before(async () => {
      kirin = await start('express.mjs', { workers: 2 });
    });
    after(() => kirin?.stop());

    it("serves the app's routes and middleware on Kirin's listener; the listen callback ran in every worker", async () => {
      const res = await request(`${kirin.url}/`);
      assert.equal(res.status, 200);
      assert.match(res.body, /^express listened=true pid=\d+$/);
      const echo = await request(`${kirin.url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
      assert.deepEqual(JSON.parse(echo.body), { got: { a: 1 } });
      const port = portOf(kirin.url);
      // server.address() inside the callback answers where Kirin listens, so the app's own log line is true.
      assert.equal(rawLines(kirin, `express app listening on ${port}`).length, 2, kirin.output());
    });

    it('server.address() answers the address clients really connect to', async () => {
      assert.deepEqual(JSON.parse((await request(`${kirin.url}/address`)).body), { address: '127.0.0.1', family: 'IPv4', port: portOf(kirin.url) });
    });

    it('says once that the port the app asked for is ignored, and nothing listens on it', async () => {
      const lines = says(kirin, 'the app asked to listen on port 3000; Kirin serves it on');
      assert.equal(lines.length, 1, kirin.output());
      assert.equal(lines[0]!.level, 'info');
      assert.equal(lines[0]!.servedAt, kirin.url);
    });

    it('both workers serve it', async () => {
      const pids = new Set<string>();
      await waitFor(async () => {
        pids.add((await request(`${kirin.url}/`, { agent: false })).body.split('pid=')[1]!);
        return pids.size === 2;
      }, { what: 'answers from both workers' });
    });

    it('writes an access-log line for each of its requests', async () => {
      await request(`${kirin.url}/?logged=yes`);
      const line = await kirin.waitForLine((l) => l.type === 'access' && l.path === '/?logged=yes', 10_000, 'the access-log line');
      assert.equal(line.status, 200);
      assert.equal(line.method, 'GET');
    });

    it('reloads without a failed request: the new generation listens again and serves', async () => {
      const before = new Set<string>();
      for (let i = 0; i < 6; i++) before.add((await request(`${kirin.url}/`, { agent: false })).body.split('pid=')[1]!);
      const reloaded = kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('reloaded: generation 2'), 30_000, 'the reload');
      let done = false;
      void reloaded.then(() => (done = true));
      kirin.signal('SIGHUP');
      const failures: string[] = [];
      let served = 0;
      while (!done) {
        const res = await request(`${kirin.url}/`, { agent: false }).catch((error: Error) => ({ status: 0, body: error.message }));
        if (res.status === 200) served++;
        else failures.push(`${res.status} ${res.body}`);
      }
      await reloaded;
      assert.deepEqual(failures, []);
      assert.ok(served > 0);
      await waitFor(async () => !before.has((await request(`${kirin.url}/`, { agent: false })).body.split('pid=')[1]!), { what: 'a worker of the new generation to answer' });
      assert.equal(rawLines(kirin, `express app listening on ${portOf(kirin.url)}`).length, 4, 'the new workers listened too');
      // The old workers drained: their app servers emitted 'close' (what server.close(cb) waits for).
      for (const pid of before) await kirin.waitForLine((l) => l.msg === `express server closed in ${pid}`, 10_000, `worker ${pid}'s server to close`);
    });
  });

  it('a plain http.createServer(…).listen(process.env.PORT) in CommonJS: served where --bind says, not on PORT', async () => {
    const port = await freePort();
    await serving(
      'plain.cjs',
      async (kirin) => {
        assert.equal((await request(`${kirin.url}/x?y=1`)).body, 'plain GET /x?y=1 listening=true');
        assert.equal(rawLines(kirin, `plain server listening on ${port}`).length, 1, "the app's 'listening' listener ran");
        assert.equal(await accepts(port), false, `nothing listens on PORT (${port})`);
        assert.equal(says(kirin, `the app asked to listen on port ${port}`).length, 1);
      },
      { env: { PORT: String(port) } },
    );
  });

  it('Fastify awaiting fastify.listen({ port: 3000 }) at the top level', () =>
    serving('fastify.mjs', async (kirin) => {
      const body = JSON.parse((await request(`${kirin.url}/hello`)).body) as { framework: string; url: string };
      assert.deepEqual({ framework: body.framework, url: body.url }, { framework: 'fastify', url: '/hello' });
      // fastify.listen resolved with Kirin's address; its second binding for "localhost" (::1) is the same service, not warned about.
      assert.equal(rawLines(kirin, `fastify says: listening at ${kirin.url}`).length, 1, kirin.output());
      assert.deepEqual(kirin.lines.filter((l) => l.level === 'warn' && l.role === 'worker'), []);
    }));

  it('Koa calling app.listen(3000)', () =>
    serving('koa.mjs', async (kirin) => {
      assert.equal((await request(`${kirin.url}/k`)).body, 'koa /k');
    }));

  it('an ESM app with top-level await before it listens', () =>
    serving('top-level-await.mjs', async (kirin) => {
      assert.equal((await request(`${kirin.url}/tla`)).body, 'hello after top-level await /tla');
    }));

  it('a module that exports nothing and listens later from an un-awaited async bootstrap() (the NestJS shape)', () =>
    serving('bootstrap-later.mjs', async (kirin) => {
      // Ready means listened: the very first request is served.
      assert.equal((await request(`${kirin.url}/`)).body, 'bootstrapped with connected db');
      assert.equal(rawLines(kirin, 'bootstrap finished: listening on 3000').length, 1);
    }));

  it('NestJS (@nestjs/platform-express) from its generated bootstrap(): routes, injection, the client address', () =>
    serving('nest.mjs', async (kirin) => {
      assert.equal((await request(`${kirin.url}/hello?x=1`)).body, 'hello from nest at /hello?x=1 (127.0.0.1)');
      assert.equal((await request(`${kirin.url}/missing`)).status, 404);
      // app.getUrl() reads server.address(): Kirin's listener, not port 3000.
      assert.equal(rawLines(kirin, `nest says: listening at ${kirin.url}`).length, 1, kirin.output());
    }));

  it('an app that listens twice (site and metrics ports): the first server is served, the second is named in a warning', () =>
    serving('two-servers.mjs', async (kirin) => {
      assert.equal((await request(`${kirin.url}/`)).body, 'the site');
      const warning = says(kirin, 'the app listened on a second HTTP server (port 9100)');
      assert.equal(warning.length, 1, kirin.output());
      assert.match(String(warning[0]!.msg), /Kirin serves only the first one it listened on \(port 3000\), so this one gets no connections/);
    }));

  it('an exported handler is served as before; a server listened on after the app loaded is named in a warning', async () => {
    const port = await freePort();
    await serving(
      'listens-after-load.mjs',
      async (kirin) => {
        assert.equal((await request(`${kirin.url}/`)).body, 'the exported handler');
        const warning = await kirin.waitForLine((l) => l.level === 'warn' && String(l.msg).includes(`the app listened on port ${port} after it had loaded`), 10_000, 'the warning');
        assert.match(String(warning.msg), /so this one gets no connections/);
        assert.equal((await request(`${kirin.url}/`)).body, 'the exported handler');
        assert.equal(await accepts(port), false, `nothing listens on ${port}`);
      },
      { env: { LATE_PORT: String(port) } },
    );
  });

  it('behind a unix socket, server.address() answers its path', async () => {
    const socketPath = join(tempDir(), 'app.sock');
    const kirin = await startKirin({ cwd: APPS, args: ['serve', 'express.mjs', '--workers', '1', '--bind', `unix:${socketPath}`, '--state-dir', tempDir()] });
    try {
      const res = await request('http://localhost/address', { socketPath });
      assert.equal(JSON.parse(res.body), socketPath);
    } finally {
      await kirin.stop();
    }
  });

  it("upgrades reach the upgrade listener on the app's own server (ws's new WebSocketServer({ server }))", () =>
    serving('express-ws.mjs', async (kirin) => {
      assert.equal((await request(`${kirin.url}/`)).body, 'express with ws');
      const socket = new WebSocket(`${kirin.url.replace('http', 'ws')}/echo`);
      const reply = await new Promise<string>((resolve, reject) => {
        socket.once('open', () => socket.send('hi'));
        socket.once('message', (data) => resolve(String(data)));
        socket.once('error', reject);
      });
      socket.close();
      assert.match(reply, /^echo hi from \d+$/);
    }));

  it("Socket.IO's own io.listen(3000): polling and WebSocket clients connect through Kirin's listener", () =>
    serving('socket-io.mjs', async (kirin) => {
      for (const transports of [['polling'], ['websocket']] as const) {
        const client = io(kirin.url, { transports: [...transports], reconnection: false, forceNew: true });
        try {
          const reply = await new Promise<string>((resolve, reject) => {
            client.once('connect_error', reject);
            client.once('connect', () => client.emit('greet', 'kirin', resolve));
          });
          assert.match(reply, new RegExp(`^hello kirin over ${transports[0]} from \\d+$`));
        } finally {
          client.close();
        }
      }
      assert.equal(says(kirin, 'the app asked to listen on port 3000').length, 1);
    }));

  it("counts the app's requests on /metrics like any app's", async () => {
    const dir = tempDir();
    writeFiles(dir, {
      'kirin.config.ts': `export default {
        admin: { listen: '127.0.0.1:0' },
        sites: { '*': { '/': { app: ${JSON.stringify(join(APPS, 'express.mjs'))} } } },
      };\n`,
    });
    const { kirin, admin } = await startWithAdmin(dir, 1);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await request(`${kirin.url}/`)).status, 200);
      assert.equal((await request(`${kirin.url}/no-such-route`)).status, 404);
      await waitFor(async () => (await metric(admin, 'kirin_http_requests_total', { site: '*', route: '/', status_class: '2xx' })) === 3, { what: '3 requests counted' });
      assert.equal(await metric(admin, 'kirin_http_requests_total', { site: '*', route: '/', status_class: '4xx' }), 1);
    } finally {
      await kirin.stop();
    }
  });
});

describe('apps that listen too late, or fail before they listen', () => {
  async function failure(app: string, args: string[] = []): Promise<{ code: number | null; kirin: KirinProcess }> {
    const kirin = await start(app, { workers: 2, args, waitReady: false });
    const { code } = await kirin.exited;
    return { code, kirin };
  }

  it('a bootstrap() that rejects before listening stops the start with its error, exit code 4', async () => {
    const { code, kirin } = await failure('bootstrap-fails.mjs');
    assert.equal(code, 4, kirin.output());
    const mentions = says(kirin, 'cannot reach the database at db:5432');
    assert.equal(mentions.length, 1, kirin.output());
    assert.match(String(mentions[0]!.msg), /bootstrap-fails\.mjs threw while loading: cannot reach the database/);
  });

  it('a module that exports nothing and never listens: an error after --timeout naming both ways to be an app', async () => {
    const { code, kirin } = await failure('never-listens.mjs', ['--timeout', '2']);
    assert.equal(code, 4, kirin.output());
    const mentions = says(kirin, 'did not call listen() within 2 s (--timeout)');
    assert.equal(mentions.length, 1, kirin.output());
    assert.match(String(mentions[0]!.msg), /never-listens\.mjs has no export named "default" \(it exports nothing\), and it did not call listen\(\) within 2 s/);
    assert.match(String(mentions[0]!.msg), /or an app that calls listen\(\) itself/);
  });
});
