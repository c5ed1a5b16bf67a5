/**
 * Where a Kirin worker spends its CPU under load: runs one worker (pinned, as in
 * the benches) with V8's CPU profiler on, puts wrk on it, and prints the
 * functions and files with the most self time. For deciding what to optimize,
 * not a bench (profiling slows everything down a little).
 *
 *   node bench/profile.ts fetch|node|static|proxy|raw|tls|tls-raw [--duration S] [--top N]
 *
 * fetch/node: the hello app as a fetch handler / Node listener; static: a 1 KiB
 * file; proxy: to a raw node:http upstream (on CPU 0, so only Kirin is
 * profiled on CPU 1); raw: the raw node:http ceiling, for comparison.
 * tls: the hello fetch handler over HTTPS as bench/tls.ts runs it (keep-alive
 * HTTP/1.1); tls-raw: its ceiling, raw node:https.
 */
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../test/support/kirin.ts';
import { app, KIRIN_BIN, NODE, ROOT } from './lib/paths.ts';
import { startKirin } from './lib/peers/kirin.ts';
import { startRawNode } from './lib/peers/node-servers.ts';
import { LOAD_CPU, SERVER_CPU } from './lib/pin.ts';
import { launch } from './lib/process.ts';
import { waitForPort } from './lib/ready.ts';
import { serverOf } from './lib/server.ts';
import { makeCertificate, TLS_NAME, writeKirinTlsConfig } from './lib/tls-site.ts';
import { prereqs } from './lib/prereq.ts';
import { descendants } from './lib/rss.ts';
import { table } from './lib/report.ts';
import type { Server } from './lib/server.ts';
import { benchTempDir } from './lib/temp.ts';
import { runWrk } from './lib/wrk.ts';

const TARGETS = ['fetch', 'node', 'static', 'proxy', 'raw', 'tls', 'tls-raw'] as const;
type Target = (typeof TARGETS)[number];

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { duration: { type: 'string', default: '5' }, top: { type: 'string', default: '25' } } });
  const target = positionals[0] as Target;
  if (!TARGETS.includes(target)) throw new Error(`usage: node bench/profile.ts ${TARGETS.join('|')} [--duration S] [--top N]`);
  prereqs(['wrk', 'taskset']);
  const dir = benchTempDir('kirin-bench-profile-');
  const profiles = join(dir, 'profiles');
  mkdirSync(profiles);
  const env = { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profiles}` };
  const started: Server[] = [];
  try {
    const server = await start(target, dir, env, started);
    await runWrk({ url: `${server.url}${target === 'static' ? '1k.html' : ''}`, durationS: 1 });
    const workers = target === 'raw' || target === 'tls-raw' ? [server.pid] : descendants(server.pid);
    const result = await runWrk({ url: `${server.url}${target === 'static' ? '1k.html' : ''}`, durationS: Number(values.duration) });
    console.log(`${target}: ${Math.round(result.requestsPerSec)} req/s under the profiler (p99 ${result.p99Ms.toFixed(2)} ms)`);
    for (const s of started.splice(0).reverse()) await s.stop();
    const file = readdirSync(profiles).find((name) => workers.some((pid) => name.includes(`.${pid}.`)) && name.includes('.0.'));
    if (!file) throw new Error(`no CPU profile from the worker (${workers.join(', ')}) in ${profiles}: ${readdirSync(profiles).join(', ')}`);
    report(JSON.parse(readFileSync(join(profiles, file), 'utf8')) as CpuProfile, Number(values.top));
    const kept = join(tmpdir(), `kirin-${target}.cpuprofile`);
    writeFileSync(kept, readFileSync(join(profiles, file)));
    console.log(`\nthe whole profile: ${kept} (open it in Chrome DevTools → Performance, or VS Code)`);
  } finally {
    for (const s of started) await s.stop();
  }
}

async function start(target: Target, dir: string, env: Record<string, string>, started: Server[]): Promise<Server> {
  const port = await freePort();
  if (target === 'raw') {
    const server = await startRawNode(port, SERVER_CPU, 'raw node:http', env);
    started.push(server);
    return server;
  }
  if (target === 'tls' || target === 'tls-raw') {
    const server = await startTls(target, dir, port, env);
    started.push(server);
    return server;
  }
  let config: string | undefined;
  let appPath: string | undefined;
  if (target === 'fetch' || target === 'node') appPath = app(target === 'fetch' ? 'hello-fetch.ts' : 'hello-node.ts');
  else if (target === 'static') {
    mkdirSync(join(dir, 'public'));
    writeFileSync(join(dir, 'public', '1k.html'), 'x'.repeat(1024));
    config = join(dir, 'kirin.json');
    writeFileSync(config, JSON.stringify({ sites: { '*': { '/': { static: join(dir, 'public') } } } }));
  } else {
    const upstream = await startRawNode(await freePort(), LOAD_CPU, 'node upstream');
    started.push(upstream);
    config = join(dir, 'kirin.json');
    writeFileSync(config, JSON.stringify({ sites: { '*': { '/': { proxy: upstream.url.replace(/\/$/, '') } } } }));
  }
  const server = await startKirin({ name: `kirin ${target}`, app: appPath, config, port, workers: 1, accessLog: 'off', cpu: SERVER_CPU, env, extraArgs: ['--timeout', '0'] });
  started.push(server);
  return server;
}

/** Kirin's https listener with the hello fetch handler, or raw node:https, with bench/tls.ts's certificate. */
async function startTls(target: 'tls' | 'tls-raw', dir: string, port: number, env: Record<string, string>): Promise<Server> {
  const { cert, key } = await makeCertificate(dir);
  const url = `https://${TLS_NAME}:${port}/`;
  if (target === 'tls-raw') {
    const proc = launch({ name: 'raw node:https', command: NODE, args: [app('raw-https.ts')], cpu: SERVER_CPU, env: { PORT: String(port), HOST: '127.0.0.1', CERT: cert, KEY: key, NODE_ENV: 'production', ...env } });
    await waitForPort('127.0.0.1', port, 15_000, proc);
    return serverOf(proc, url);
  }
  const config = writeKirinTlsConfig(dir, port, cert, key, app('hello-fetch.ts'));
  const proc = launch({ name: 'kirin tls', command: NODE, args: [KIRIN_BIN, 'serve', '--config', config], cpu: SERVER_CPU, env: { NODE_ENV: 'production', ...env } });
  await proc.waitForLine((line) => line.includes('"msg":"ready:'), 30_000, 'the ready line');
  return serverOf(proc, url);
}

/** Prints the functions and the files with the most self time. */
function report(profile: CpuProfile, top: number): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const total = profile.samples.length;
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, count] of hits) {
    const frame = byId.get(id)!.callFrame;
    const file = shortUrl(frame.url);
    const name = `${frame.functionName || '(anonymous)'}  ${file}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + count);
    byFile.set(file || frame.functionName, (byFile.get(file || frame.functionName) ?? 0) + count);
  }
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, count]) => [((count * 100) / total).toFixed(1), name]);
  console.log(`\nself time by function (${total} samples):`);
  console.log(table(['%', 'function  where'], rows(byFunction)));
  console.log('\nself time by file:');
  console.log(table(['%', 'file'], rows(byFile)));
}

function shortUrl(url: string): string {
  if (!url) return '';
  if (url.startsWith('file://')) return relative(ROOT, new URL(url).pathname);
  return url;
}

await main();
