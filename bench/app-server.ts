/**
 * The app server against its peers (issue 2, Must show 3): "Hello, world!" on
 * one pinned core, wrk pinned to the other, in one run:
 *
 *   raw node:http           the ceiling for any Node server
 *   @hono/node-server       the fast fetch adapter Kirin must beat
 *   Kirin, fetch handler    one worker, access log off (and on, labelled)
 *   Kirin, Node listener    one worker, access log off (and on, labelled)
 *
 * then the memory of Kirin's master + 2 workers next to PM2 cluster mode with
 * 2 instances. Usage: node bench/app-server.ts [--duration S] [--rounds N] [--quick]
 */
import { join } from 'node:path';
import { freePort } from '../test/support/kirin.ts';
import { benchTempDir } from './lib/temp.ts';
import { parseBenchOptions, type BenchOptions } from './lib/options.ts';
import { app } from './lib/paths.ts';
import { startKirin } from './lib/peers/kirin.ts';
import { startHono, startRawNode } from './lib/peers/node-servers.ts';
import { startPm2Cluster } from './lib/peers/pm2.ts';
import { SERVER_CPU } from './lib/pin.ts';
import { prereqs } from './lib/prereq.ts';
import { describeProbe, probe } from './lib/probe.ts';
import { race } from './lib/race.ts';
import { above, fmt, Printer, ratioAtLeast, runsNote, table, type BenchResult, type Target } from './lib/report.ts';
import { megabytes, treeRss } from './lib/rss.ts';
import type { Server } from './lib/server.ts';
import { runWrk } from './lib/wrk.ts';

const BENCH = 'app-server';
const RAW = 'raw node:http';
const HONO = '@hono/node-server';
const KIRIN_FETCH = 'kirin fetch handler';
const KIRIN_NODE = 'kirin Node listener';
const KIRIN_FETCH_LOG = 'kirin fetch handler + access log';
const KIRIN_NODE_LOG = 'kirin Node listener + access log';
/** Load before reading memory: enough to start every worker's JIT and buffers, as in service. */
const MEMORY_WARMUP_S = 2;

export async function run(options: BenchOptions, out = new Printer()): Promise<BenchResult> {
  prereqs(['wrk', 'taskset']);
  out.line(`## app server: "Hello, world!" — server on CPU ${SERVER_CPU}, wrk -t1 -c50 on CPU 0, ${options.rounds} × ${options.durationS} s per server (median), ${options.warmupS} s warm-up before each run`);
  const logDir = benchTempDir('kirin-bench-log-');
  const servers: Server[] = [];
  try {
    servers.push(await startRawNode(await freePort(), SERVER_CPU, RAW));
    servers.push(await startHono(await freePort(), SERVER_CPU));
    for (const [name, script, log] of [
      [KIRIN_FETCH, 'hello-fetch.ts', 'off'],
      [KIRIN_NODE, 'hello-node.ts', 'off'],
      [KIRIN_FETCH_LOG, 'hello-fetch.ts', join(logDir, 'fetch.log')],
      [KIRIN_NODE_LOG, 'hello-node.ts', join(logDir, 'node.log')],
    ] as const) {
      servers.push(await startKirin({ name, app: app(script), port: await freePort(), workers: 1, accessLog: log, cpu: SERVER_CPU }));
    }
    out.line('responses (every server must send the same):');
    for (const server of servers) out.line(`  ${server.name.padEnd(34)} ${describeProbe(await probe(server.url))}`);
    out.line('access log: JSON lines to a file in a temporary folder (what a systemd unit writing to a file does)');
    const results = await race(
      servers.map((s) => ({ name: s.name, url: s.url, pids: [s.pid] })),
      options,
      out,
      RAW,
    );
    const ratio = (name: string) => results.get(name)!.ratio!;
    out.line();
    out.line('req/s: median of the clean runs; × raw: median of each run ÷ the raw node:http runs just before and after it;');
    out.line("req/CPU-s: req/s ÷ the server's CPU use (efficiency)");
    out.line(
      table(
        ['server (1 worker, 1 core)', 'req/s', 'p99 ms', '× raw', 'req/CPU-s', 'failed', 'runs'],
        [...results.values()].map((r) => [r.name, r.requestsPerSec, r.p99Ms.toFixed(2), r.ratio!.toFixed(2), r.requestsPerCpuSecond, r.failures, runsNote(r)]),
      ),
    );
    const targets: Target[] = [
      ratioAtLeast(BENCH, 'Kirin fetch handler vs raw node:http', ratio(KIRIN_FETCH), 1, 0.95, 'raw'),
      above(BENCH, 'Kirin fetch handler vs @hono/node-server', ratio(KIRIN_FETCH), ratio(HONO), HONO, '× raw'),
      ratioAtLeast(BENCH, 'Kirin Node listener vs raw node:http', ratio(KIRIN_NODE), 1, 0.97, 'raw'),
    ];
    for (const server of servers.splice(0)) await server.stop();
    out.line();
    await memory(out);
    return { name: BENCH, targets, text: out.text };
  } finally {
    for (const server of servers) await server.stop();
  }
}

/** RSS of Kirin's master + 2 workers and of PM2's daemon + 2 instances, idle after a short warm-up. */
async function memory(out: Printer): Promise<void> {
  const warmupS = MEMORY_WARMUP_S;
  out.line(`## memory: hello world, 2 workers, idle after ${warmupS} s of load (VmRSS summed over the process tree)`);
  const kirin = await startKirin({ name: 'kirin', app: app('hello-fetch.ts'), port: await freePort(), workers: 2, accessLog: 'off', cpu: SERVER_CPU });
  let kirinTree;
  try {
    await runWrk({ url: kirin.url, durationS: warmupS });
    await settle();
    kirinTree = treeRss(kirin.pid);
  } finally {
    await kirin.stop();
  }
  const pm2 = await startPm2Cluster({ script: 'raw-node.ts', instances: 2, port: await freePort(), cpu: SERVER_CPU });
  let pm2Tree;
  try {
    await runWrk({ url: pm2.url, durationS: warmupS });
    await settle();
    pm2Tree = treeRss(pm2.daemonPid);
  } finally {
    await pm2.kill();
  }
  const describe = (tree: ReturnType<typeof treeRss>) => {
    const [root, ...rest] = tree.processes;
    return `${megabytes(root?.rssBytes ?? 0)} + ${rest.map((p) => megabytes(p.rssBytes)).join(' + ')}`;
  };
  out.line(
    table(
      ['process tree', 'total MB', 'root + children MB', 'processes'],
      [
        ['Kirin master + 2 workers (fetch handler)', Number(megabytes(kirinTree.totalBytes)), describe(kirinTree), kirinTree.processes.length],
        ['PM2 daemon + 2 cluster instances (raw node:http)', Number(megabytes(pm2Tree.totalBytes)), describe(pm2Tree), pm2Tree.processes.length],
      ],
    ),
  );
  out.line(`Kirin uses ${fmt(kirinTree.totalBytes / pm2Tree.totalBytes)}× PM2's memory`);
}

/** Load stopped: give the processes a moment to finish the requests' garbage before reading RSS. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1500));
}

if (import.meta.main) {
  const { options } = parseBenchOptions(process.argv.slice(2));
  await run(options);
}
