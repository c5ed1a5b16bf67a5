/**
 * The zero-downtime proof (issue 2, Must show 2): Kirin with 2 workers under
 * constant load from 20 concurrent clients (bench/lib/load.ts counts every
 * failure: non-2xx, reset, refused, timeout), while
 *
 *   1. 10 HUP reloads one second apart, keep-alive connections
 *   2. the same with a new connection per request (Connection: close)
 *   3. --max-requests 1000 recycling workers under keep-alive load (no reloads)
 *
 * and, for comparison, PM2 cluster mode's `pm2 reload` under the same load.
 * Every Kirin scenario must end with 0 failed requests. Not pinned: this measures
 * correctness, not speed. Usage: node bench/reload.ts
 */
import { parseBenchOptions, type BenchOptions } from './lib/options.ts';
import { freePort } from '../test/support/kirin.ts';
import { describeLoad, startLoad, type LoadReport } from './lib/load.ts';
import { app } from './lib/paths.ts';
import { reloadDrill, pause } from './lib/drill.ts';
import { startKirin } from './lib/peers/kirin.ts';
import { startPm2Cluster } from './lib/peers/pm2.ts';
import { prereqs } from './lib/prereq.ts';
import { Printer, type BenchResult, type Target } from './lib/report.ts';

const BENCH = 'reload';
const CONCURRENCY = 20;
const RELOADS = 10;
const RELOAD_INTERVAL_MS = 1000;
const MAX_REQUESTS = 1000;
const RECYCLING_SECONDS = 10;
const BODY = 'Hello, world!';

export async function run(_options: BenchOptions, out = new Printer()): Promise<BenchResult> {
  prereqs([]);
  out.line(`## reload: Kirin, 2 workers, ${CONCURRENCY} concurrent clients, every failure counted (non-2xx, reset, refused, timeout)`);
  const targets: Target[] = [];
  for (const connection of ['keep-alive', 'close'] as const) {
    targets.push(await reloadsUnderLoad(connection, out));
  }
  targets.push(await recyclingUnderLoad(RECYCLING_SECONDS, out));
  out.line('for comparison (no target): PM2 cluster mode, 2 instances of raw node:http, the same load and `pm2 reload` instead of HUP');
  for (const connection of ['keep-alive', 'close'] as const) await pm2ReloadsUnderLoad(connection, out);
  return { name: BENCH, targets, text: out.text };
}

/** PM2's own zero-downtime reload under the same load: what Kirin's users would otherwise get. */
async function pm2ReloadsUnderLoad(connection: 'keep-alive' | 'close', out: Printer): Promise<void> {
  const pm2 = await startPm2Cluster({ script: 'raw-node.ts', instances: 2, port: await freePort(), cpu: null });
  try {
    const load = startLoad({ url: pm2.url, concurrency: CONCURRENCY, connection, expectBody: BODY });
    let report: LoadReport;
    try {
      await load.waitForRequests(500);
      for (let i = 0; i < RELOADS; i++) {
        const started = Date.now();
        await pm2.reload();
        await pause(Math.max(0, RELOAD_INTERVAL_MS - (Date.now() - started)));
      }
      await pause(1000);
    } finally {
      report = await load.stop();
    }
    out.line(`  PM2: ${RELOADS} pm2 reloads, ${connection}: ${describeLoad(report)}`);
  } finally {
    await pm2.kill();
  }
}

/** 10 HUPs one second apart while the load runs; waits for every reload to finish. */
async function reloadsUnderLoad(connection: 'keep-alive' | 'close', out: Printer): Promise<Target> {
  const name = `${RELOADS} HUP reloads, ${connection === 'close' ? 'Connection: close (new connection per request)' : 'keep-alive'}`;
  const kirin = await startKirin({ name: 'kirin', app: app('hello-fetch.ts'), port: await freePort(), workers: 2, accessLog: 'off', cpu: null });
  try {
    const { report, reloads, slowestReloadMs } = await reloadDrill(kirin, { concurrency: CONCURRENCY, connection, expectBody: BODY }, RELOADS, RELOAD_INTERVAL_MS);
    return verdict(name, report, `${reloads}/${RELOADS} reloads done (slowest ${slowestReloadMs} ms)`, reloads === RELOADS, out);
  } finally {
    await kirin.stop();
  }
}

async function recyclingUnderLoad(seconds: number, out: Printer): Promise<Target> {
  const name = `--max-requests ${MAX_REQUESTS} recycling for ${seconds} s, keep-alive`;
  const kirin = await startKirin({
    name: 'kirin',
    app: app('hello-fetch.ts'),
    port: await freePort(),
    workers: 2,
    accessLog: 'off',
    cpu: null,
    extraArgs: ['--max-requests', String(MAX_REQUESTS)],
  });
  let report: LoadReport;
  let recycled: number;
  try {
    const load = startLoad({ url: kirin.url, concurrency: CONCURRENCY, connection: 'keep-alive', expectBody: BODY });
    try {
      await pause(seconds * 1000);
    } finally {
      report = await load.stop();
    }
    recycled = kirin.process.count((line) => line.includes('recycled (max-requests)'));
  } finally {
    await kirin.stop();
  }
  return verdict(name, report, `${recycled} workers recycled`, recycled > 0, out);
}

function verdict(name: string, report: LoadReport, proof: string, proofOk: boolean, out: Printer): Target {
  out.line(`  ${name}: ${proof}; ${describeLoad(report)}`);
  return {
    bench: BENCH,
    name,
    measured: `${report.failures} failed of ${report.requests}; ${proof}`,
    required: '0 failed',
    pass: report.failures === 0 && report.requests > 0 && proofOk,
  };
}

if (import.meta.main) {
  const { options } = parseBenchOptions(process.argv.slice(2));
  await run(options);
}
