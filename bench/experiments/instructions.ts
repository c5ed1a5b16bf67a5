/**
 * CPU instructions per request, counted by valgrind's callgrind: a server's cost
 * per request that does not move with the machine's load. On a shared VM the
 * benches' req/s swing by ±10% between neighbouring runs of the same server;
 * an instruction count for the same binary and the same requests repeats to
 * within a fraction of a percent, so small differences (Kirin's fetch path
 * against raw node:http) can be told apart. Instructions are not time — a cache
 * miss or a syscall costs more than its count says — so this complements the
 * benches, it does not replace them.
 *
 *   node bench/experiments/instructions.ts [raw|hono|fetch|node|static ...] [--requests N] [--warmup N]
 *
 * Each server runs under `valgrind --tool=callgrind` (Kirin's master and its one
 * worker, --trace-children); h2load (HTTP/1.1, 10 connections) sends `--warmup`
 * requests so V8 has optimized the hot path, callgrind's counters are zeroed
 * (`callgrind_control -z`), `--requests` more are sent, and the counters are
 * dumped: the process's instructions ÷ requests. Everything in the process
 * counts — Node, V8, libuv, the syscall wrappers, the watchdog thread — not the
 * kernel, not the client.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../../test/support/kirin.ts';
import { KIRIN_BIN, NODE, app } from '../lib/paths.ts';
import { prereqs } from '../lib/prereq.ts';
import { launch, type Launched } from '../lib/process.ts';
import { waitForPort } from '../lib/ready.ts';
import { table } from '../lib/report.ts';
import { descendants } from '../lib/rss.ts';
import { benchTempDir } from '../lib/temp.ts';

const TARGETS = ['raw', 'hono', 'fetch', 'node', 'static'] as const;
type Target = (typeof TARGETS)[number];

const STARTUP_MS = 180_000;
const SERVER_ENV = { HOST: '127.0.0.1', NODE_ENV: 'production' };

interface Measured {
  target: Target;
  instructions: number;
  requests: number;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { requests: { type: 'string', default: '20000' }, warmup: { type: 'string', default: '10000' } },
  });
  const targets = (positionals.length > 0 ? positionals : ['raw', 'hono', 'fetch', 'node']) as Target[];
  for (const t of targets) if (!TARGETS.includes(t)) throw new Error(`unknown target "${t}"; expected ${TARGETS.join(', ')}`);
  prereqs(['valgrind', 'callgrind_control', 'h2load']);
  const requests = Number(values.requests);
  const warmup = Number(values.warmup);
  const results: Measured[] = [];
  for (const target of targets) {
    const measured = await measure(target, requests, warmup);
    console.log(`${target}: ${Math.round(measured.instructions / measured.requests).toLocaleString('en-US')} instructions per request`);
    results.push(measured);
  }
  const base = results.find((r) => r.target === 'raw');
  const perRequest = (r: Measured) => r.instructions / r.requests;
  console.log(`\ninstructions per request (callgrind; ${warmup} warm-up requests, then ${requests} counted; HTTP/1.1 keep-alive, 10 connections)`);
  console.log(
    table(
      ['server', 'instructions/request', base ? '× raw node:http' : ''],
      results.map((r) => [r.target, Math.round(perRequest(r)).toLocaleString('en-US'), base ? (perRequest(r) / perRequest(base)).toFixed(3) : '']),
    ),
  );
}

async function measure(target: Target, requests: number, warmup: number): Promise<Measured> {
  const dir = benchTempDir(`kirin-instructions-${target}-`);
  const out = join(dir, 'callgrind');
  mkdirSync(out);
  const port = await freePort();
  const { args, path } = command(target, dir, port);
  const server = launch({
    name: target,
    command: 'valgrind',
    args: ['--tool=callgrind', '--trace-children=yes', `--vgdb-prefix=${join(dir, 'vgdb')}`, `--callgrind-out-file=${join(out, 'callgrind.out.%p')}`, NODE, ...args],
    cpu: null,
    env: { PORT: String(port), ...SERVER_ENV },
  });
  try {
    await waitForPort('127.0.0.1', port, STARTUP_MS, server);
    const url = `http://127.0.0.1:${port}${path}`;
    load(url, warmup);
    const pid = servingPid(target, server);
    control('-z', pid, dir);
    const answered = load(url, requests);
    control('-d', pid, dir);
    return { target, instructions: await dumpedInstructions(out, pid), requests: answered };

  } finally {
    await server.stop(30_000);
  }
}

/** Node's arguments and the URL path for a target. */
function command(target: Target, dir: string, port: number): { args: string[]; path: string } {
  const kirin = (more: string[]) => [KIRIN_BIN, 'serve', ...more, '--workers', '1', '--bind', `127.0.0.1:${port}`, '--access-log', 'off', '--admin', 'off', '--state-dir', join(dir, 'state')];
  switch (target) {
    case 'raw':
      return { args: [app('raw-node.ts')], path: '/' };
    case 'hono':
      return { args: [app('hono-server.ts')], path: '/' };
    case 'fetch':
      return { args: kirin([app('hello-fetch.ts')]), path: '/' };
    case 'node':
      return { args: kirin([app('hello-node.ts')]), path: '/' };
    case 'static': {
      mkdirSync(join(dir, 'public'));
      writeFileSync(join(dir, 'public', '1k.html'), 'x'.repeat(1024));
      const config = join(dir, 'kirin.json');
      writeFileSync(config, JSON.stringify({ sites: { '*': { '/': { static: join(dir, 'public') } } } }));
      return { args: kirin(['--config', config]), path: '/1k.html' };
    }
  }
}

/** The process that answers requests: the server itself, or Kirin's one worker. */
function servingPid(target: Target, server: Launched): number {
  if (target === 'raw' || target === 'hono') return server.pid;
  const workers = descendants(server.pid);
  if (workers.length !== 1) throw new Error(`${target}: expected one worker under the master ${server.pid}, found ${workers.join(', ') || 'none'}`);
  return workers[0]!;
}

/** `callgrind_control -z|-d PID`: zero or dump the counters of a running process. */
function control(command: '-z' | '-d', pid: number, dir: string): void {
  // vgdb names its pipes after $USER and $HOST: the same HOST the server got (its listen address for bench/apps).
  const env = { ...process.env, HOST: SERVER_ENV.HOST };
  const output = execFileSync('callgrind_control', [`--vgdb-prefix=${join(dir, 'vgdb')}`, command, String(pid)], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (!/OK\./.test(output)) throw new Error(`callgrind_control ${command} ${pid} did not reach the process:\n${output}`);
}

/** Sends `count` requests with h2load (HTTP/1.1, keep-alive); returns how many got a 2xx. */
function load(url: string, count: number): number {
  const output = execFileSync('h2load', ['--h1', '-n', String(count), '-c', '10', url], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const status = /status codes: (\d+) 2xx/.exec(output);
  const ok = status ? Number(status[1]) : 0;
  if (ok !== count) throw new Error(`h2load: ${ok} of ${count} requests got a 2xx from ${url}:\n${output}`);
  return ok;
}

/**
 * The instructions executed (Ir) since the last zeroing: the `totals:` line of
 * the dump `callgrind_control -d` asked for. The dump is callgrind.out.PID.1
 * (callgrind.out.PID itself is only written at exit), finished some time after
 * the command returns.
 */
async function dumpedInstructions(dir: string, pid: number): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const name = readdirSync(dir).find((n) => n.startsWith(`callgrind.out.${pid}.`));
    const totals = name === undefined ? null : /^totals: (\d+)/m.exec(readFileSync(join(dir, name), 'utf8'));
    if (totals) return Number(totals[1]);
    if (Date.now() > deadline) throw new Error(`callgrind wrote no finished dump for pid ${pid} in ${dir}: ${readdirSync(dir).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

await main();
