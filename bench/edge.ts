/**
 * The edge against nginx and Caddy (issue 3, Must show 4), in one run, every
 * server pinned to CPU 1 with one worker, wrk on CPU 0:
 *
 *   static files, 1 KiB to 10 MiB,   Kirin `static` route, nginx root, Caddy file_server
 *   each as .html and as random .bin
 *   reverse proxy                    Kirin `proxy` route, nginx proxy_pass, Caddy reverse_proxy
 *
 * Every proxy forwards to the same upstream: a raw node:http hello server,
 * pinned to the SAME core as the proxies (ANCHORS.md's "node upstream (same
 * core)"): proxy and upstream share CPU 1, so the proxy's own cost per request
 * shows in full, and wrk keeps CPU 0 to itself as in every other bench.
 * Usage: node bench/edge.ts [--duration S] [--rounds N] [--quick]
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../test/support/kirin.ts';
import { benchTempDir } from './lib/temp.ts';
import { parseBenchOptions, type BenchOptions } from './lib/options.ts';
import { startCaddy } from './lib/peers/caddy.ts';
import { startKirin } from './lib/peers/kirin.ts';
import { startNginx } from './lib/peers/nginx.ts';
import { startRawNode } from './lib/peers/node-servers.ts';
import { SERVER_CPU } from './lib/pin.ts';
import { prereqs } from './lib/prereq.ts';
import { describeProbe, probe, type Probe } from './lib/probe.ts';
import { race, relative, type Contestant, type RaceResult } from './lib/race.ts';
import { notMeasured, Printer, ratioAtLeast, runsNote, table, type BenchResult, type Target } from './lib/report.ts';
import type { Server } from './lib/server.ts';

const BENCH = 'edge';
/**
 * Every size from 1 KiB to 10 MiB twice: HTML text, and random bytes with a
 * binary extension (issue 19: a 100 KiB random .bin raced at 0.2× nginx while
 * a 100 KiB .html raced at 1.14×; type, compressibility and cache eligibility
 * must not matter).
 */
const SIZES = { '1 KiB': 1024, '10 KiB': 10 * 1024, '100 KiB': 100 * 1024, '1 MiB': 1024 * 1024, '10 MiB': 10 * 1024 * 1024 } as const;
type FileSize = keyof typeof SIZES;
const KINDS = { html: 'html', binary: 'bin' } as const;
type FileKind = keyof typeof KINDS;
interface StaticFile {
  /** 'static 100 KiB binary': the race group and the row's name after the server's. */
  group: string;
  name: string;
  bytes: number;
  kind: FileKind;
}
const FILES: StaticFile[] = (Object.keys(SIZES) as FileSize[]).flatMap((size) =>
  (Object.keys(KINDS) as FileKind[]).map((kind) => ({ group: `static ${size} ${kind}`, name: `${SIZES[size] / 1024}k.${KINDS[kind]}`, bytes: SIZES[size], kind })),
);
const GROUPS = [...FILES.map((f) => f.group), 'proxy'];
type Group = string;

export async function run(options: BenchOptions, out = new Printer()): Promise<BenchResult> {
  prereqs(['wrk', 'taskset', 'nginx', 'caddy']);
  out.line(`## edge: static files and reverse proxy — servers on CPU ${SERVER_CPU} (1 worker each; proxies share it with their node:http upstream), wrk -t1 -c50 on CPU 0, ${options.rounds} × ${options.durationS} s (median)`);
  const dir = benchTempDir('kirin-bench-edge-');
  // nginx's worker may run as another user: the files must be readable by anyone.
  chmodSync(dir, 0o755);
  const publicDir = join(dir, 'public');
  writeFiles(publicDir);
  const ports = { upstream: await freePort(), nginxStatic: await freePort(), nginxProxy: await freePort(), caddyStatic: await freePort(), caddyProxy: await freePort() };
  const servers: Server[] = [];
  try {
    servers.push(await startRawNode(ports.upstream, SERVER_CPU, 'node upstream'));
    servers.push(await startNginx([{ port: ports.nginxStatic, staticRoot: publicDir }, { port: ports.nginxProxy, upstreamPort: ports.upstream }], SERVER_CPU));
    servers.push(await startCaddy([{ port: ports.caddyStatic, staticRoot: publicDir }, { port: ports.caddyProxy, upstreamPort: ports.upstream }], SERVER_CPU));
    const kirinStatic = await tryKirin('kirin static', join(dir, 'static.json'), { sites: { '*': { '/': { static: publicDir } } } }, servers);
    const kirinProxy = await tryKirin('kirin proxy', join(dir, 'proxy.json'), { sites: { '*': { '/': { proxy: `http://127.0.0.1:${ports.upstream}` } } } }, servers);

    const [upstream, nginx, caddy] = servers as [Server, Server, Server];
    const contestants: Contestant[] = [];
    const missing = new Map<string, string>();
    out.line('responses:');
    for (const file of FILES) {
      const isFile = (p: Probe) => p.status === 200 && p.bodyBytes === file.bytes;
      await addChecked({ name: `kirin ${file.group}`, server: kirinStatic, path: file.name, pids: [] }, isFile, contestants, missing, out);
      await addChecked({ name: `nginx ${file.group}`, server: nginx, port: ports.nginxStatic, path: file.name, pids: [] }, isFile, contestants, missing, out);
      await addChecked({ name: `caddy ${file.group}`, server: caddy, port: ports.caddyStatic, path: file.name, pids: [] }, isFile, contestants, missing, out);
    }
    const isHello = (p: Probe) => p.status === 200 && p.body.toString() === 'Hello, world!';
    // A proxy's upstream works for it: its CPU is part of the system measured, not "other load".
    await addChecked({ name: 'node upstream, direct', server: upstream, path: '', pids: [] }, isHello, contestants, missing, out);
    await addChecked({ name: 'kirin proxy', server: kirinProxy, path: '', pids: [upstream.pid] }, isHello, contestants, missing, out);
    await addChecked({ name: 'nginx proxy', server: nginx, port: ports.nginxProxy, path: '', pids: [upstream.pid] }, isHello, contestants, missing, out);
    await addChecked({ name: 'caddy proxy', server: caddy, port: ports.caddyProxy, path: '', pids: [upstream.pid] }, isHello, contestants, missing, out);

    // One race per kind of request, each around nginx: every other server runs between two nginx runs.
    const results = new Map<string, RaceResult>();
    for (const group of GROUPS) {
      const members = contestants.filter((c) => groupOf(c.name) === group);
      if (members.length === 0) continue;
      out.line(`${group}:`);
      const baseline = members.some((c) => c.name === `nginx ${group}`) ? `nginx ${group}` : undefined;
      for (const [name, result] of await race(members, options, out, baseline)) results.set(name, result);
    }
    out.line();
    out.line('req/s: median of the clean runs; × nginx: median of each run ÷ the nginx runs just before and after it;');
    out.line('req/CPU-s: req/s ÷ CPU used by the server (and, for proxies, the upstream)');
    out.line(
      table(
        ['server (1 core)', 'req/s', 'p99 ms', '× nginx', '× caddy', 'req/CPU-s', 'failed', 'runs'],
        contestants.map((c) => {
          const r = results.get(c.name)!;
          const group = groupOf(c.name);
          const versus = (peer: string) => {
            const other = results.get(`${peer} ${group}`);
            return other ? relative(r, other).toFixed(2) : '';
          };
          return [c.name, r.requestsPerSec, r.p99Ms.toFixed(2), versus('nginx'), versus('caddy'), r.requestsPerCpuSecond, r.failures, runsNote(r)];
        }),
      ),
    );
    for (const [name, why] of missing) out.line(`not measured: ${name}: ${why}`);
    const targets = [
      ...FILES.flatMap((file) => compare(results, missing, file.group, file.bytes === SIZES['1 KiB'] ? [['nginx', 0.8], ['caddy', 2.5]] : [['nginx', 0.8]])),
      ...compare(results, missing, 'proxy', [
        ['nginx', 0.6],
        ['caddy', 2.5],
      ]),
    ];
    return { name: BENCH, targets, text: out.text };
  } finally {
    for (const server of servers) await server.stop();
  }
}

/** The files every server serves, world-readable: HTML text, and random bytes (nothing can compress or shortcut them). */
function writeFiles(publicDir: string): void {
  mkdirSync(publicDir, { recursive: true, mode: 0o755 });
  const unit = '<p>Kirin serves small static files from memory and streams large ones.</p>\n';
  for (const file of FILES) {
    const content = file.kind === 'html' ? unit.repeat(Math.ceil(file.bytes / unit.length)).slice(0, file.bytes) : randomBytes(file.bytes);
    writeFileSync(join(publicDir, file.name), content, { mode: 0o644 });
  }
}

/** Starts a Kirin from a JSON config; returns why not when it cannot start (a handler not built yet). */
async function tryKirin(name: string, file: string, config: object, servers: Server[]): Promise<Server | string> {
  writeFileSync(file, JSON.stringify(config, null, 2));
  try {
    const server = await startKirin({ name, config: file, port: await freePort(), workers: 1, accessLog: 'off', cpu: SERVER_CPU });
    servers.push(server);
    return server;
  } catch (error) {
    const text = (error as Error).message;
    const reason = /not implemented[^"\\]*/.exec(text)?.[0] ?? text.split('\n')[0]!;
    return `Kirin did not start (${reason})`;
  }
}

interface Candidate {
  name: string;
  /** The server, or why it could not start. */
  server: Server | string;
  /** The port when the server listens on several (default: its URL's). */
  port?: number;
  path: string;
  /** Processes besides the server's own tree that serve this contestant. */
  pids: number[];
}

/** Races only servers that answer correctly; the others are reported as not measured. */
async function addChecked(candidate: Candidate, ok: (p: Probe) => boolean, contestants: Contestant[], missing: Map<string, string>, out: Printer): Promise<void> {
  const { name, server } = candidate;
  if (typeof server === 'string') {
    missing.set(name, server);
    return;
  }
  const url = `http://127.0.0.1:${candidate.port ?? new URL(server.url).port}/${candidate.path}`;
  try {
    const answer = await probe(url);
    out.line(`  ${name.padEnd(24)} ${describeProbe(answer)}`);
    if (ok(answer)) contestants.push({ name, url, pids: [server.pid, ...candidate.pids] });
    else missing.set(name, `wrong answer: ${describeProbe(answer)}`);
  } catch (error) {
    missing.set(name, (error as Error).message);
  }
}

function compare(results: Map<string, RaceResult>, missing: Map<string, string>, group: string, against: [string, number][]): Target[] {
  return against.map(([peer, min]) => {
    const name = `${group}: Kirin vs ${peer}`;
    const kirin = results.get(`kirin ${group}`);
    const other = results.get(`${peer} ${group}`);
    if (!kirin || !other) return notMeasured(BENCH, name, `>= ${min}× ${peer}`, missing.get(`kirin ${group}`) ?? missing.get(`${peer} ${group}`) ?? 'no result');
    return ratioAtLeast(BENCH, name, relative(kirin, other), 1, min, peer);
  });
}

/** "kirin static 1 KiB html" → "static 1 KiB html"; "node upstream, direct" → "proxy". */
function groupOf(name: string): Group {
  return name.startsWith('node upstream') ? 'proxy' : name.replace(/^(kirin|nginx|caddy) /, '');
}

if (import.meta.main) {
  const { options } = parseBenchOptions(process.argv.slice(2));
  await run(options);
}
