/**
 * What a process does not load, it does not keep in memory (issue 19): with a
 * config that uses no HTTPS, no alerts and no ddns, no worker loads the ACME
 * client, the dashboard or the mailer, and none loads Node's TypeScript
 * stripper for a .ts app (the master strips once into the compile cache); the
 * master loads neither the ACME client, the mailer, the ddns clients nor the
 * stripper (its .ts config is evaluated in a child process), nor Node's fetch
 * (undici) with tls and http2 — which an ESM import of node:http pulls in
 * (src/util/node-http.ts); and a worker with no https listener and no fetch app
 * loads none of those either; no worker runs a second JavaScript thread (the
 * watchdog inspects a hung worker from the master). Checked through
 * each process's module list, taken by a preloaded hook
 * (test/support/module-list.mjs), not through timings or sizes.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { MASTER_V8_FLAGS } from '../../src/runtime.ts';
import { request } from '../support/http.ts';
import { freePort, ROOT, startKirin, tempDir, waitFor, writeFiles, type KirinProcess } from '../support/kirin.ts';

interface ModuleList {
  pid: number;
  threadId: number;
  writes: number;
  argv: string[];
  execArgv: string[];
  urls: string[];
  builtins: string[];
}

const PRELOAD = pathToFileURL(join(ROOT, 'test', 'support', 'module-list.mjs')).href;

/** Modules a plain site has no use for, by what their URL contains. */
const ACME_CLIENT = '/node_modules/acme-client/';
const KIRIN_ACME = '/dist/tls/acme.js';
const DASHBOARD = '/dist/observe/dashboard/';
const MAILER = '/node_modules/nodemailer/';
const KIRIN_MAILER = '/dist/observe/alerts/email.js';
/** The alerter and its channels; the master loads them with the first incident a configured notify hears of. */
const KIRIN_ALERTS = ['/dist/observe/alerts/alerter.js', '/dist/observe/alerts/webhook.js', '/dist/observe/alerts/message.js'];
const DDNS_CLIENTS = ['/node_modules/undici/', '/node_modules/dns-packet/', '/dist/ddns/updater.js'];
/** The ws package: only an app that exports a Bun-style `websocket` needs it. */
const WS = '/node_modules/ws/';
/** pino: a worker makes its logger with the first line it writes, and a normal start writes none at the info level. */
const PINO = '/node_modules/pino/';
const TYPE_STRIPPER = 'internal/deps/amaro/dist/index';
/** Node's fetch and what it loads at once; a fetch app needs it (Response), nothing else of a plain http site does. */
const FETCH_AND_TLS = ['internal/deps/undici/undici', 'tls', 'http2', 'https'];

type FreshLists = (matches: (list: ModuleList) => boolean, count: number) => Promise<ModuleList[]>;

/** A Kirin whose every process writes its module lists (test/support/module-list.mjs), and a way to read them. */
async function startListed(files: Record<string, string>, config: string, admin = 'off'): Promise<{ kirin: KirinProcess; site: string; freshLists: FreshLists; threadLists: () => ModuleList[] }> {
  const site = tempDir('kirin-footprint-');
  const listDir = tempDir('kirin-footprint-modules-');
  writeFiles(site, files);
  const kirin = await startKirin({
    args: ['serve', '--config', join(site, config), '--state-dir', join(site, 'state'), '--admin', admin, '--access-log', 'off'],
    cwd: site,
    env: { NODE_OPTIONS: `--import ${PRELOAD}`, KIRIN_TEST_MODULE_DIR: listDir },
  });
  const allLists = () =>
    readdirSync(listDir)
      .filter((name) => name.endsWith('.json'))
      .map((name) => JSON.parse(readFileSync(join(listDir, name), 'utf8')) as ModuleList);
  /** The main thread's module list of each process whose command line matches, written after this call began. */
  async function freshLists(matches: (list: ModuleList) => boolean, count: number): Promise<ModuleList[]> {
    const read = () => allLists().filter((list) => list.threadId === 0 && matches(list));
    const seen = new Map(read().map((list) => [list.pid, list.writes]));
    return waitFor(
      () => {
        const lists = read().filter((list) => list.writes > (seen.get(list.pid) ?? 0) + 1);
        return lists.length >= count ? lists : null;
      },
      { what: `${count} fresh module lists` },
    );
  }
  /** The lists of every thread but the main threads (a worker thread runs the preload too). */
  const threadLists = () => allLists().filter((list) => list.threadId !== 0);
  return { kirin, site, freshLists, threadLists };
}

const isWorker = (list: ModuleList) => list.argv.some((arg) => arg.endsWith('/worker/main.js'));

describe('what a plain site loads (footprint)', () => {
  let kirin: KirinProcess;
  let site: string;
  let freshLists: FreshLists;
  let threadLists: () => ModuleList[];
  let admin: string;

  before(async () => {
    const port = await freePort();
    admin = `127.0.0.1:${await freePort()}`;
    ({ kirin, site, freshLists, threadLists } = await startListed(
      {
        'app.ts': "const greeting: string = 'Hello from TypeScript';\nexport default { fetch: (): Response => new Response(greeting) };\n",
        'public/style.css': 'body { color: black }\n',
        'kirin.config.ts': `const port: number = ${port};\nexport default { workers: 2, listen: { http: [\`127.0.0.1:\${port}\`] }, sites: { '*': { '/static/': { static: './public' }, '/': { app: './app.ts' } } } };\n`,
      },
      'kirin.config.ts',
      admin,
    ));
    for (const path of ['/', '/static/style.css']) assert.equal((await request(`${kirin.url}${path}`)).status, 200);
  });
  after(() => kirin?.stop());

  const isMaster = (list: ModuleList) => list.pid === kirin.pid;

  it("has the lists it checks: each worker's names the app, the static handler and Node's fetch Response", async () => {
    const workers = await freshLists(isWorker, 2);
    for (const worker of workers) {
      assert.ok(worker.urls.includes(pathToFileURL(join(site, 'app.ts')).href), `worker ${worker.pid} did not list the app: ${worker.urls.join(' ')}`);
      assert.ok(worker.urls.some((url) => url.includes('/dist/handlers/static/')), `worker ${worker.pid} did not list the static handler`);
      assert.ok(worker.builtins.length > 50, `worker ${worker.pid} listed only ${worker.builtins.length} built-in modules`);
    }
  });

  it('no worker loads the ACME client, the dashboard, the mailer, ws, pino or the TypeScript stripper', async () => {
    for (const worker of await freshLists(isWorker, 2)) {
      const unwanted = worker.urls.filter((url) => [ACME_CLIENT, KIRIN_ACME, DASHBOARD, MAILER, KIRIN_MAILER, WS, PINO].some((part) => url.includes(part)));
      assert.deepEqual(unwanted, [], `worker ${worker.pid} loaded what this config does not use`);
      assert.ok(!worker.builtins.includes(TYPE_STRIPPER), `worker ${worker.pid} loaded Node's type stripper for app.ts: the compile cache was not used`);
    }
  });

  it('no worker runs a second JavaScript thread: the watchdog waits in the master, not in a thread per worker', async () => {
    const workers = await freshLists(isWorker, 2);
    const pids = new Set(workers.map((worker) => worker.pid));
    assert.deepEqual(threadLists().filter((list) => pids.has(list.pid)).map((list) => `${list.pid}/${list.threadId}`), []);
  });

  it("the master loads neither the ACME client, the mailer, the ddns clients, the TypeScript stripper nor Node's fetch, tls and http2", async () => {
    const [master] = await freshLists(isMaster, 1);
    const unwanted = master!.urls.filter((url) => [ACME_CLIENT, KIRIN_ACME, MAILER, KIRIN_MAILER, ...KIRIN_ALERTS, ...DDNS_CLIENTS].some((part) => url.includes(part)));
    assert.deepEqual(unwanted, [], 'the master loaded what this config does not use');
    assert.ok(master!.urls.some((url) => url.endsWith('/dist/master/master.js')), 'the list is not the master\'s');
    assert.ok(!master!.builtins.includes(TYPE_STRIPPER), "the master loaded Node's type stripper: the .ts config was evaluated in the master");
    assert.deepEqual(master!.builtins.filter((name) => FETCH_AND_TLS.includes(name)), [], "the master loaded Node's fetch or TLS modules (an ESM import of node:http?)");
  });

  it('the master loads the dashboard with the first request for it, not before', async () => {
    const [before] = await freshLists(isMaster, 1);
    assert.ok(before!.urls.some((url) => url.endsWith('/dist/observe/admin-server.js')), 'the admin listener is not running');
    assert.deepEqual(before!.urls.filter((url) => url.includes(DASHBOARD)), [], 'the master loaded the dashboard before anyone asked for it');
    const script = await request(`http://${admin}/dashboard.js`);
    assert.equal(script.status, 200);
    assert.match(script.body, /dashboard\.css|api\/status/);
    const [after] = await freshLists(isMaster, 1);
    assert.ok(after!.urls.some((url) => url.includes(DASHBOARD)), 'the module list did not see the dashboard load');
  });

  it("runs the master with V8's optimizing compilers off, and no worker", async () => {
    const [master] = await freshLists(isMaster, 1);
    for (const flag of MASTER_V8_FLAGS) assert.ok(master!.execArgv.includes(flag), `the master runs without ${flag}: ${master!.execArgv.join(' ')}`);
    for (const worker of await freshLists(isWorker, 2)) {
      assert.deepEqual(worker.execArgv.filter((flag) => MASTER_V8_FLAGS.includes(flag)), [], `worker ${worker.pid} runs with the master's flags`);
    }
  });
});

/** A site without https whose worker has no use for Node's fetch: static files, or a Node listener (Express, Koa). */
const withoutFetch: { what: string; files: Record<string, string>; route: object; lists: string }[] = [
  { what: 'a static site', files: { 'public/index.html': '<p>hello</p>\n' }, route: { static: './public' }, lists: '/dist/handlers/static/' },
  { what: 'a Node-listener app', files: { 'app.mjs': "export default (req, res) => res.end('hello');\n" }, route: { app: './app.mjs' }, lists: '/app.mjs' },
];

for (const { what, files, route, lists } of withoutFetch) {
  describe(`what ${what} without https loads (footprint)`, () => {
    let kirin: KirinProcess;
    let freshLists: FreshLists;

    before(async () => {
      const port = await freePort();
      ({ kirin, freshLists } = await startListed(
        { ...files, 'kirin.json': JSON.stringify({ workers: 1, listen: { http: [`127.0.0.1:${port}`] }, sites: { '*': { '/': route } } }) },
        'kirin.json',
      ));
      assert.equal((await request(`${kirin.url}/`)).status, 200);
    });
    after(() => kirin?.stop());

    it("its worker loads neither Node's fetch nor tls, https and http2", async () => {
      const [worker] = await freshLists(isWorker, 1);
      assert.ok(worker!.urls.some((url) => url.includes(lists)), `the list is not the worker of ${what}`);
      assert.deepEqual(worker!.builtins.filter((name) => FETCH_AND_TLS.includes(name)), [], 'the worker loaded what only https listeners and fetch apps need');
    });
  });
}
