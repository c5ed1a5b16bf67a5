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
 *   node bench/experiments/instructions.ts [raw|hono|fetch|node|static|tls-raw|tls|tls-node|h2-raw|h2|h2-node ...] [--requests N] [--warmup N] [--dumps DIR]
 *
 * Targets over HTTP/1.1 (h2load --h1, 10 keep-alive connections, plain TCP):
 *   raw      bench/apps/raw-node.ts, the ceiling the others are compared to
 *   hono     @hono/node-server
 *   fetch    Kirin, the hello fetch handler; node: the hello Node listener
 *   static   Kirin, a 1 KiB file
 * Targets over HTTP/1.1 with TLS (h2load --h1, 10 keep-alive connections), with
 * bench/tls.ts's ECDSA P-256 certificate for localhost:
 *   tls-raw  bench/apps/raw-https.ts (node:https, HSTS included), the ceiling
 *   tls      Kirin as bench/tls.ts runs it: the hello fetch handler on an https listener
 *   tls-node the same with the hello Node listener
 * Targets over HTTP/2 (h2load -c 50 -m 10 over TLS, as bench/tls.ts loads them,
 * with its ECDSA P-256 certificate for localhost):
 *   h2-raw   bench/apps/raw-http2.ts (node:http2's compatibility API), the ceiling
 *   h2       Kirin as bench/tls.ts runs it: the hello fetch handler on an https
 *            listener (HSTS included)
 *   h2-node  the same with the hello Node listener: raw's very handler, so the
 *            difference to h2-raw is Kirin's request path alone
 *
 * Each server runs under `valgrind --tool=callgrind` (Kirin's master and its one
 * worker, --trace-children); h2load sends `--warmup` requests so V8 has
 * optimized the hot path (default 10,000 over HTTP/1.1; 40,000 over HTTP/2,
 * where after 10,000 TurboFan was still compiling: 8% of raw's count), callgrind's
 * counters are zeroed (`callgrind_control -z`), `--requests` more are sent, and
 * the counters are dumped: the process's instructions ÷ requests. Everything in
 * the process counts — Node, V8 and its GC and compiler threads, libuv,
 * OpenSSL, the syscall wrappers, the watchdog thread — not the kernel, not the
 * client. The counted requests come on new connections, so over TLS they carry
 * 50 full handshakes (about 1% at the default counts); both HTTP/2 targets carry
 * the same ones. Kirin's master is counted apart: it shares the server's core in
 * the benches.
 *
 * The total moves by a few percent between runs over HTTP/2, nearly all of it
 * garbage collection (how much a scavenge finds alive among 500 requests in
 * flight, what the helper threads pick up). The main thread without the GC
 * (`main − Heap::CollectGarbage`, from callgrind_annotate) repeats to about 1%:
 * the column to compare request paths by. `--dumps DIR` keeps each target's
 * dumps in DIR/TARGET/ for callgrind_annotate (they go with the temporary
 * folder otherwise).
 *
 * Every process runs on CPU 0: instruction counts do not depend on the core, and
 * the other core stays free for whatever else the machine is measuring.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../../test/support/kirin.ts';
import { KIRIN_BIN, NODE, app } from '../lib/paths.ts';
import { pinned } from '../lib/pin.ts';
import { prereqs } from '../lib/prereq.ts';
import { launch, type Launched } from '../lib/process.ts';
import { waitForPort } from '../lib/ready.ts';
import { table } from '../lib/report.ts';
import { kirinWorkers } from '../lib/rss.ts';
import { benchTempDir } from '../lib/temp.ts';
import { makeCertificate, TLS_NAME, writeKirinTlsConfig } from '../lib/tls-site.ts';

const TARGETS = ['raw', 'hono', 'fetch', 'node', 'static', 'tls-raw', 'tls', 'tls-node', 'h2-raw', 'h2', 'h2-node'] as const;
type Target = (typeof TARGETS)[number];
/** Targets loaded over HTTP/2 with TLS; the others over HTTP/1.1. */
const HTTP2: readonly Target[] = ['h2-raw', 'h2', 'h2-node'];
/** Targets loaded over HTTP/1.1 with TLS. */
const HTTPS1: readonly Target[] = ['tls-raw', 'tls', 'tls-node'];
const WARMUP = { http1: 10_000, http2: 40_000 };
/** The ceiling each target is compared to: a bare Node server on the same protocol. */
const baseline = (target: Target): Target => (HTTP2.includes(target) ? 'h2-raw' : HTTPS1.includes(target) ? 'tls-raw' : 'raw');
type Protocol = 'http1' | 'https1' | 'http2';
const protocolOf = (target: Target): Protocol => (HTTP2.includes(target) ? 'http2' : HTTPS1.includes(target) ? 'https1' : 'http1');
const CPU = 0;

const STARTUP_MS = 180_000;
const SERVER_ENV = { HOST: '127.0.0.1', NODE_ENV: 'production' };

interface Measured {
  target: Target;
  requests: number;
  warmup: number;
  /** In the process that answers the requests. */
  instructions: number;
  /** Its main thread, garbage collection excluded. */
  withoutGc: number;
  /** Kirin's master over the same requests: not in `instructions`, but on the same core in the benches. */
  masterInstructions: number | null;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { requests: { type: 'string', default: '20000' }, warmup: { type: 'string' }, dumps: { type: 'string' } },
  });
  const targets = (positionals.length > 0 ? positionals : ['raw', 'hono', 'fetch', 'node']) as Target[];
  for (const t of targets) if (!TARGETS.includes(t)) throw new Error(`unknown target "${t}"; expected ${TARGETS.join(', ')}`);
  prereqs(['valgrind', 'callgrind_control', 'callgrind_annotate', 'h2load']);
  const requests = Number(values.requests);
  const results: Measured[] = [];
  for (const target of targets) {
    const warmup = values.warmup === undefined ? (HTTP2.includes(target) ? WARMUP.http2 : WARMUP.http1) : Number(values.warmup);
    const measured = await measure(target, requests, warmup, values.dumps === undefined ? undefined : join(resolve(values.dumps), target));
    const master = measured.masterInstructions === null ? '' : `; ${count(measured.masterInstructions / requests)} in the master`;
    console.log(`${target}: ${count(measured.instructions / requests)} instructions per request (main thread without GC ${count(measured.withoutGc / requests)}${master})`);
    results.push(measured);
  }
  const ratio = (r: Measured, of: (m: Measured) => number) => {
    const base = results.find((b) => b.target === baseline(r.target));
    return base ? (of(r) / of(base)).toFixed(3) : '';
  };
  console.log(`\ninstructions per request (callgrind; ${requests} counted after a warm-up; HTTP/1.1: keep-alive, 10 connections; HTTP/2: TLS, 50 connections × 10 streams)`);
  console.log(
    table(
      ['server', 'warm-up', 'instructions/request', '× raw', 'main thread without GC', '× raw', 'Kirin master'],
      results.map((r) => [
        r.target,
        r.warmup,
        count(r.instructions / r.requests),
        ratio(r, (m) => m.instructions),
        count(r.withoutGc / r.requests),
        ratio(r, (m) => m.withoutGc),
        r.masterInstructions === null ? '' : count(r.masterInstructions / r.requests),
      ]),
    ),
  );
  console.log('× raw: against raw node:http, raw node:https for the tls targets, raw node:http2 for the h2 targets.');
}

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function measure(target: Target, requests: number, warmup: number, dumps: string | undefined): Promise<Measured> {
  const dir = benchTempDir(`kirin-instructions-${target}-`);
  const out = dumps ?? join(dir, 'callgrind');
  mkdirSync(out, { recursive: true });
  const port = await freePort();
  const { args, path, env } = await command(target, dir, port);
  const server = launch({
    name: target,
    command: 'valgrind',
    args: ['--tool=callgrind', '--trace-children=yes', `--vgdb-prefix=${join(dir, 'vgdb')}`, `--callgrind-out-file=${join(out, 'callgrind.out.%p')}`, NODE, ...args],
    cpu: CPU,
    env: { PORT: String(port), ...SERVER_ENV, ...env },
  });
  try {
    await waitForPort('127.0.0.1', port, STARTUP_MS, server);
    // Kirin's master opens the port before its worker can answer (over TLS: before the worker has the certificate).
    if (isKirin(target)) await server.waitForLine((line) => line.includes('"msg":"ready:'), STARTUP_MS, 'the ready line');
    const protocol = protocolOf(target);
    const url = protocol === 'http1' ? `http://127.0.0.1:${port}${path}` : `https://${TLS_NAME}:${port}${path}`;
    load(url, warmup, protocol);
    const pid = servingPid(target, server);
    // Kirin's master is counted apart: it shares the server's core in the benches (bench/lib/pin.ts).
    const master = pid === server.pid ? null : server.pid;
    const counted = master === null ? [pid] : [pid, master];
    for (const p of counted) control('-z', p, dir);
    const answered = load(url, requests, protocol);
    for (const p of counted) control('-d', p, dir);
    const dump = await finishedDump(out, pid);
    return {
      target,
      requests: answered,
      warmup,
      instructions: dump.instructions,
      withoutGc: mainThreadWithoutGc(dump.file),
      masterInstructions: master === null ? null : (await finishedDump(out, master)).instructions,
    };
  } finally {
    await server.stop(30_000);
  }
}

/** Node's arguments, the URL path and any environment a target needs. */
async function command(target: Target, dir: string, port: number): Promise<{ args: string[]; path: string; env?: NodeJS.ProcessEnv }> {
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
    case 'tls-raw':
    case 'h2-raw': {
      const { cert, key } = await makeCertificate(dir);
      return { args: [app(target === 'tls-raw' ? 'raw-https.ts' : 'raw-http2.ts')], path: '/', env: { CERT: cert, KEY: key } };
    }
    case 'tls':
    case 'tls-node':
    case 'h2':
    case 'h2-node': {
      const { cert, key } = await makeCertificate(dir);
      // As bench/tls.ts runs it: the listener and the worker count come from the config.
      const config = writeKirinTlsConfig(dir, port, cert, key, app(target === 'h2' || target === 'tls' ? 'hello-fetch.ts' : 'hello-node.ts'));
      return { args: [KIRIN_BIN, 'serve', '--config', config], path: '/' };
    }
  }
}

function isKirin(target: Target): boolean {
  return target !== 'raw' && target !== 'hono' && target !== 'tls-raw' && target !== 'h2-raw';
}

/** The process that answers requests: the server itself, or Kirin's one worker. */
function servingPid(target: Target, server: Launched): number {
  if (!isKirin(target)) return server.pid;
  const workers = kirinWorkers(server.pid);
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

/**
 * Sends `count` requests with h2load and returns how many got a 2xx: HTTP/1.1
 * keep-alive on 10 connections (in the clear or over TLS), or HTTP/2 over TLS
 * on 50 connections with 10 streams each (bench/tls.ts's load); over TLS to
 * 127.0.0.1 with the URL's name as SNI.
 */
function load(url: string, count: number, protocol: Protocol): number {
  const port = new URL(url).port;
  const http2 = protocol === 'http2';
  const connectTo = protocol === 'http1' ? [] : [`--connect-to=127.0.0.1:${port}`];
  const args = http2 ? ['-n', String(count), '-c', '50', '-m', '10', ...connectTo, url] : ['--h1', '-n', String(count), '-c', '10', ...connectTo, url];
  const h2load = pinned(CPU, 'h2load', args);
  const output = execFileSync(h2load.command, h2load.args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (http2 && !/Application protocol: h2/.test(output)) throw new Error(`h2load: ${url} did not negotiate HTTP/2:\n${output}`);
  const status = /status codes: (\d+) 2xx/.exec(output);
  const ok = status ? Number(status[1]) : 0;
  if (ok !== count) throw new Error(`h2load: ${ok} of ${count} requests got a 2xx from ${url}:\n${output}`);
  return ok;
}

/**
 * The dump `callgrind_control -d` asked for, and the instructions executed (Ir)
 * since the last zeroing: its `totals:` line. The dump is callgrind.out.PID.1
 * (callgrind.out.PID itself is only written at exit), finished some time after
 * the command returns.
 */
async function finishedDump(dir: string, pid: number): Promise<{ file: string; instructions: number }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const name = readdirSync(dir).find((n) => n.startsWith(`callgrind.out.${pid}.`));
    const totals = name === undefined ? null : /^totals: (\d+)/m.exec(readFileSync(join(dir, name), 'utf8'));
    if (totals) return { file: join(dir, name!), instructions: Number(totals[1]) };
    if (Date.now() > deadline) throw new Error(`callgrind wrote no finished dump for pid ${pid} in ${dir}: ${readdirSync(dir).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * The main thread's instructions outside garbage collection: the inclusive cost
 * of `main` less that of V8's Heap::CollectGarbage (the scavenges and full GCs
 * the main thread runs), as callgrind_annotate adds them up.
 */
function mainThreadWithoutGc(dump: string): number {
  const output = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', dump], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  const inclusive = (fn: string): number | null => {
    const line = output.split('\n').find((l) => l.includes(`:${fn} [`));
    const cost = line === undefined ? null : /^\s*([\d,]+)/.exec(line);
    return cost ? Number(cost[1]!.replace(/,/g, '')) : null;
  };
  const main = inclusive('main');
  if (main === null) throw new Error(`callgrind_annotate found no main() in ${dump}`);
  return main - (inclusive('v8::internal::Heap::CollectGarbage(v8::internal::AllocationSpace, v8::internal::GarbageCollectionReason, v8::GCCallbackFlags)') ?? 0);
}

await main();
