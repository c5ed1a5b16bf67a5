/**
 * Where the megabytes go (issue 19, Must show 1): RSS and PSS of Kirin's
 * master and of each worker, next to a bare node:http server and PM2 cluster
 * mode with 2 instances, in one run:
 *
 *   idle node (no server)            `node -e 'setInterval(…)'`: what Node itself
 *                                    holds before any module of a program loads
 *   bare node:http (.mjs)            one process: the floor for any Node server
 *   PM2 daemon + 2 instances (.mjs)  the process manager Node users reach for
 *   Kirin, app.ts hello world        master + 2 workers (type stripping)
 *   Kirin, app.mjs hello world       master + 2 workers
 *   Kirin, Node listener app.ts      master + 2 workers running a (req, res) listener,
 *                                    as Express and Koa are: no Node fetch loaded
 *   Kirin, examples/demo             master + 2 workers (app, static files, respond)
 *   Kirin, static files only         master + 2 workers without an app: what Kirin
 *                                    itself costs (a fetch app loads Node's fetch)
 *
 * Each is read after 200 requests (one after another, as in the issue's
 * measurement) and a pause: the footprint of a started, lightly used server.
 * Under sustained load every Node process grows further (V8's young generation
 * and optimized code): a bare node:http server reaches ~85 MB after 2 s of wrk. RSS counts every page a process maps, shared ones in
 * full (what `top` shows); PSS divides each shared page among the processes
 * that map it (the Node binary's code is shared by a master and its workers),
 * so PSS summed over a tree is what the tree costs the machine.
 *
 * Targets (issue 19): Kirin's master <= 40 MB RSS with the demo config; a
 * worker <= 55 MB RSS for the .ts hello world; master + 2 workers <= 150 MB.
 * Usage: node bench/memory.ts [--quick]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../test/support/kirin.ts';
import { parseBenchOptions, type BenchOptions } from './lib/options.ts';
import { ROOT, app } from './lib/paths.ts';
import { startKirin } from './lib/peers/kirin.ts';
import { startNodeApp } from './lib/peers/node-servers.ts';
import { startPm2Cluster } from './lib/peers/pm2.ts';
import { benchTempDir } from './lib/temp.ts';
import { pinned, SERVER_CPU } from './lib/pin.ts';
import { prereqs } from './lib/prereq.ts';
import { Printer, table, type BenchResult, type Target } from './lib/report.ts';
import { megabytes, treeRss, type ProcessMemory } from './lib/rss.ts';

const BENCH = 'memory';
const REQUESTS = 200;
const MB = 1024 * 1024;
const TARGETS = { masterRss: 40 * MB, workerRss: 55 * MB, totalRss: 150 * MB } as const;

/** One process tree, its processes sorted by role. */
interface Measured {
  name: string;
  root: ProcessMemory;
  /** Kirin's workers or PM2's instances. */
  children: ProcessMemory[];
  /** Helpers that are neither (Kirin's group guard, a shell). */
  others: ProcessMemory[];
}

export async function run(_options: BenchOptions, out = new Printer()): Promise<BenchResult> {
  prereqs(['taskset']);
  out.line(`## memory: RSS and PSS per process after ${REQUESTS} requests (server on CPU ${SERVER_CPU}), hello world unless named`);
  const measured: Measured[] = [];
  measured.push(await measureIdleNode());
  measured.push(await measureBare());
  measured.push(await measurePm2());
  for (const [name, options] of [
    ['kirin app.ts', { app: app('hello-fetch.ts') }],
    ['kirin app.mjs', { app: app('hello-fetch.mjs') }],
    ['kirin Node listener app.ts', { app: app('hello-node.ts') }],
    ['kirin examples/demo', { config: join(ROOT, 'examples', 'demo', 'kirin.config.ts'), cwd: join(ROOT, 'examples', 'demo') }],
    ['kirin static files only', { config: staticSiteConfig() }],
  ] as const) {
    const kirin = await startKirin({ name, ...options, port: await freePort(), workers: 2, accessLog: 'off', cpu: SERVER_CPU });
    try {
      measured.push(await measureTree(name, kirin.url, kirin.pid));
    } finally {
      await kirin.stop();
    }
  }
  out.line(
    table(
      ['server', 'root RSS MB', 'each child RSS MB', 'total RSS MB', 'root PSS MB', 'each child PSS MB', 'total PSS MB', 'processes'],
      measured.map((m) => {
        const all = [m.root, ...m.children, ...m.others];
        return [
          m.name,
          megabytes(m.root.rssBytes),
          m.children.map((c) => megabytes(c.rssBytes)).join(' + ') || '-',
          megabytes(sum(all, 'rssBytes')),
          megabytes(m.root.pssBytes),
          m.children.map((c) => megabytes(c.pssBytes)).join(' + ') || '-',
          megabytes(sum(all, 'pssBytes')),
          describeProcesses(m),
        ];
      }),
    ),
  );
  out.line('root: the only process (idle, bare), the PM2 daemon, the Kirin master; children: PM2 instances, Kirin workers;');
  out.line("totals include helpers (Kirin's process-group guard, a 2 MB shell)");
  const byName = new Map(measured.map((m) => [m.name, m]));
  const idle = byName.get('idle node (no server)')!;
  out.line(`floor: an idle node is ${megabytes(idle.root.rssBytes)} MB RSS here, so no Node process can meet a target below that`);
  const demo = byName.get('kirin examples/demo')!;
  const ts = byName.get('kirin app.ts')!;
  const worst = (m: Measured) => Math.max(...m.children.map((c) => c.rssBytes));
  const total = (m: Measured) => sum([m.root, ...m.children, ...m.others], 'rssBytes');
  const targets: Target[] = [
    atMost('Kirin master RSS, examples/demo', demo.root.rssBytes, TARGETS.masterRss),
    atMost('Kirin worker RSS, app.ts (largest of 2)', worst(ts), TARGETS.workerRss),
    atMost('Kirin master + 2 workers RSS, app.ts', total(ts), TARGETS.totalRss),
  ];
  return { name: BENCH, targets, text: out.text };
}

/** A site of one static folder with an index.html, as a JSON config in a temporary folder. */
function staticSiteConfig(): string {
  const dir = benchTempDir('kirin-bench-memory-static-');
  mkdirSync(join(dir, 'public'));
  writeFileSync(join(dir, 'public', 'index.html'), '<p>Hello, world!</p>\n');
  const config = join(dir, 'kirin.json');
  writeFileSync(config, JSON.stringify({ sites: { '*': { '/': { static: join(dir, 'public') } } } }));
  return config;
}

/** Node with nothing loaded, read after the same pause as the servers: the floor under every row (issue 19's targets sit near it). */
async function measureIdleNode(): Promise<Measured> {
  const { command, args } = pinned(SERVER_CPU, process.execPath, ['-e', 'setInterval(() => {}, 1000); process.stdout.write("up\\n")']);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`idle node exited with ${code}`)));
    });
    await settle();
    const root = treeRss(child.pid!).processes[0];
    if (!root) throw new Error('idle node: the process is gone');
    return { name: 'idle node (no server)', root, children: [], others: [] };
  } finally {
    child.kill();
  }
}

async function measureBare(): Promise<Measured> {
  const server = await startNodeApp({ name: 'bare node:http', script: 'raw-node.mjs', port: await freePort(), cpu: SERVER_CPU });
  try {
    return await measureTree('bare node:http (.mjs)', server.url, server.pid);
  } finally {
    await server.stop();
  }
}

async function measurePm2(): Promise<Measured> {
  const pm2 = await startPm2Cluster({ script: 'raw-node.mjs', instances: 2, port: await freePort(), cpu: SERVER_CPU });
  try {
    return await measureTree('PM2 daemon + 2 instances (.mjs)', pm2.url, pm2.daemonPid);
  } finally {
    await pm2.kill();
  }
}

async function measureTree(name: string, url: string, rootPid: number): Promise<Measured> {
  for (let i = 0; i < REQUESTS; i++) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${name}: ${url} answered ${response.status}`);
    await response.arrayBuffer();
  }
  await settle();
  const [root, ...rest] = treeRss(rootPid).processes;
  if (!root) throw new Error(`${name}: the process ${rootPid} is gone`);
  const isNode = (p: ProcessMemory) => commandLine(p.pid).includes('node');
  return { name, root, children: rest.filter(isNode), others: rest.filter((p) => !isNode(p)) };
}

/** Load stopped: let the processes finish the requests' garbage before reading. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1500));
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function describeProcesses(m: Measured): string {
  return `${1 + m.children.length + m.others.length}${m.others.length ? ` (${m.others.map((o) => o.command).join(', ')})` : ''}`;
}

function sum(processes: ProcessMemory[], key: 'rssBytes' | 'pssBytes'): number {
  return processes.reduce((total, p) => total + p[key], 0);
}

function atMost(name: string, bytes: number, limit: number): Target {
  return { bench: BENCH, name, measured: `${megabytes(bytes)} MB`, required: `<= ${megabytes(limit)} MB`, pass: bytes <= limit };
}

if (import.meta.main) {
  const { options } = parseBenchOptions(process.argv.slice(2));
  const result = await run(options);
  process.stdout.write(`\n${table(['target', 'measured', 'required', 'result'], result.targets.map((t) => [t.name, t.measured, t.required, t.pass ? 'PASS' : 'FAIL']))}\n`);
}
