/**
 * A design measurement (docs/architecture.md, "Shared listening socket vs
 * SO_REUSEPORT"): what clients see during reloads, and how requests spread
 * over 2 workers, with
 *
 *   kirin                    Kirin itself (shared socket: src/master/listeners.ts)
 *   prototype shared         socket-master.ts --mode shared
 *   prototype SO_REUSEPORT   socket-master.ts --mode reuseport
 *
 * The prototype pair differs only in the listening socket, so it isolates that
 * choice; Kirin is there to show the prototype behaves like the real thing.
 * Usage: node bench/experiments/socket-strategies.ts [--rounds N (3)] [--duration S (10)]
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/support/kirin.ts';
import { pause, reloadDrill } from '../lib/drill.ts';
import { describeLoad, startLoad, type LoadReport } from '../lib/load.ts';
import { parseBenchOptions, type BenchOptions } from '../lib/options.ts';
import { NODE, app } from '../lib/paths.ts';
import { startKirin } from '../lib/peers/kirin.ts';
import { launch } from '../lib/process.ts';
import { waitForPort } from '../lib/ready.ts';
import { Printer, table } from '../lib/report.ts';
import { serverOf, type Server } from '../lib/server.ts';

const MASTER = fileURLToPath(new URL('./socket-master.ts', import.meta.url));
const CONCURRENCY = 20;
const RELOADS = 10;
const WORKERS = 2;

type Variant = { name: string; start: (port: number) => Promise<Server> };

const VARIANTS: Variant[] = [
  { name: 'kirin (shared socket)', start: (port) => startKirin({ name: 'kirin', app: app('whoami-fetch.ts'), port, workers: WORKERS, accessLog: 'off', cpu: null }) },
  { name: 'prototype, shared socket', start: (port) => startPrototype('shared', port) },
  { name: 'prototype, SO_REUSEPORT', start: (port) => startPrototype('reuseport', port) },
];

async function startPrototype(mode: 'shared' | 'reuseport', port: number): Promise<Server> {
  const proc = launch({ name: `prototype ${mode}`, command: NODE, args: [MASTER, '--mode', mode, '--port', String(port), '--workers', String(WORKERS)], cpu: null });
  await proc.waitForLine((line) => line.includes('"msg":"ready:'), 20_000, 'the ready line');
  await waitForPort('127.0.0.1', port, 5_000, proc);
  return serverOf(proc, `http://127.0.0.1:${port}/`);
}

export async function run(options: BenchOptions, out = new Printer()): Promise<void> {
  out.line(`## shared listening socket vs SO_REUSEPORT — ${WORKERS} workers, ${CONCURRENCY} concurrent clients (bench/lib/load.ts), ${options.rounds} round(s)`);
  out.line(`kernel ${release()}, net.ipv4.tcp_migrate_req=${readSysctl('net/ipv4/tcp_migrate_req')}`);
  const reloadRows: (string | number)[][] = [];
  const spreadRows: (string | number)[][] = [];
  for (const variant of VARIANTS) {
    for (const connection of ['keep-alive', 'close'] as const) {
      const totals = { requests: 0, resets: 0, refused: 0, other: 0, reloads: 0 };
      for (let round = 0; round < options.rounds; round++) {
        const server = await variant.start(await freePort());
        try {
          const { report, reloads, slowestReloadMs } = await reloadDrill(server, { concurrency: CONCURRENCY, connection, expectBody: 'Hello, world!' }, RELOADS, 1000);
          out.line(`  ${variant.name}, ${connection}, ${RELOADS} reloads: ${reloads} done (slowest ${slowestReloadMs} ms); ${describeLoad(report)}`);
          totals.requests += report.requests;
          totals.resets += report.resets;
          totals.refused += report.refused;
          totals.other += report.failures - report.resets - report.refused;
          totals.reloads += reloads;
        } finally {
          await server.stop();
        }
      }
      reloadRows.push([variant.name, connection, totals.reloads, totals.requests, totals.resets, totals.refused, totals.other]);
    }
    for (const connection of ['keep-alive', 'close'] as const) {
      const requestShares: number[] = [];
      const connectionShares: number[] = [];
      for (let round = 0; round < options.rounds; round++) {
        const server = await variant.start(await freePort());
        let report: LoadReport;
        try {
          const load = startLoad({ url: server.url, concurrency: CONCURRENCY, connection, countHeader: 'x-worker-pid' });
          await pause(options.durationS * 1000);
          report = await load.stop();
        } finally {
          await server.stop();
        }
        out.line(`  ${variant.name}, ${connection}, spread: requests ${JSON.stringify(report.byHeader)}, connections ${JSON.stringify(report.connectionsByHeader)}`);
        requestShares.push(busiestShare(report.byHeader));
        connectionShares.push(busiestShare(report.connectionsByHeader));
      }
      spreadRows.push([
        variant.name,
        connection,
        mean(requestShares).toFixed(1),
        Math.max(...requestShares).toFixed(1),
        connection === 'keep-alive' ? mean(connectionShares).toFixed(1) : '',
        connection === 'keep-alive' ? Math.max(...connectionShares).toFixed(1) : '',
      ]);
    }
  }
  out.line();
  out.line(`reloads (${RELOADS} HUPs 1 s apart per round, under load):`);
  out.line(table(['variant', 'connections', 'reloads', 'requests', 'resets', 'refused', 'other failures'], reloadRows));
  out.line();
  out.line(`spread over ${WORKERS} workers: the busier worker's share (50 = even), ${options.rounds} × ${options.durationS} s of load without reloads:`);
  out.line(table(['variant', 'connections', 'requests % mean', 'requests % worst', 'conns % mean', 'conns % worst'], spreadRows));
}

/** The busiest value's share of a count, in percent. */
function busiestShare(counts: Record<string, number>): number {
  const values = Object.values(counts);
  const total = values.reduce((sum, v) => sum + v, 0);
  return total > 0 ? (Math.max(...values) * 100) / total : 0;
}

function mean(values: number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / (values.length || 1);
}

function readSysctl(path: string): string {
  try {
    return readFileSync(`/proc/sys/${path}`, 'utf8').trim();
  } catch {
    return '(unknown)';
  }
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const { options } = parseBenchOptions(argv);
  // Its own defaults: 3 rounds of 10 s (the throughput benches' 5 × 3 s are too short to spread 20 connections).
  await run({ ...options, rounds: argv.includes('--rounds') ? options.rounds : 3, durationS: argv.includes('--duration') ? options.durationS : 10 });
}
