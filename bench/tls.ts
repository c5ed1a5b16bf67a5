/**
 * HTTPS side by side (issue 5, Must show 4): Kirin (1 worker), a raw
 * node:https / node:http2 server (the ceiling for a Node server), nginx and
 * Caddy, all with the same ECDSA P-256 certificate for `localhost`, each
 * pinned to CPU 1, the clients to CPU 0, "Hello, world!":
 *
 *   keep-alive HTTPS        wrk -t1 -c50 https://localhost:PORT/
 *   new connection/request  the same with `Connection: close` (wrk resumes the
 *                           TLS session on some reconnects, as it did for ANCHORS.md)
 *   HTTP/2                  h2load -t1 -c50 -m10, against a second Kirin that
 *                           has served only HTTP/2, as raw node:http2 has: the
 *                           first one's JIT-compiled request path has seen both
 *                           protocols by then (under callgrind, 40,000 HTTP/1.1
 *                           requests first made each HTTP/2 request ~3% dearer)
 *   handshakes              bench/tls/handshake-client.ts: full handshakes only,
 *                           then always resuming (session tickets); the server's
 *                           CPU time per connection, read from /proc (one Node
 *                           client cannot saturate a server core)
 *
 * The three throughput races run around the raw Node server (R K R N R C R,
 * as bench/edge.ts does around nginx): each server's runs are compared with
 * the raw runs just before and after them, so the machine's slow drifts (up
 * to 40% here) hit both sides of every ratio alike.
 *
 * Targets: each >= 0.9 × the raw Node server; keep-alive and HTTP/2 >= 1.3 × Caddy.
 * Usage: node bench/tls.ts [--duration S] [--rounds N] [--quick]
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect as connectH2 } from 'node:http2';
import { get } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, tempDir } from '../test/support/kirin.ts';
import { parseBenchOptions, type BenchOptions } from './lib/options.ts';
import { app, KIRIN_BIN, NODE } from './lib/paths.ts';
import { sampleCpu } from './lib/cpu.ts';
import { LOAD_CPU, pinned, SERVER_CPU } from './lib/pin.ts';
import { prereqs } from './lib/prereq.ts';
import { launch } from './lib/process.ts';
import { race, relative, type Contestant, type RaceResult } from './lib/race.ts';
import { waitForPort } from './lib/ready.ts';
import { median, Printer, ratioAtLeast, table, type BenchResult, type Target } from './lib/report.ts';
import { serverOf, type Server } from './lib/server.ts';
import { makeCertificate, TLS_NAME as NAME, writeKirinTlsConfig } from './lib/tls-site.ts';

const BENCH = 'tls';
const HELLO = 'Hello, world!';
const run$ = promisify(execFile);

export async function run(options: BenchOptions, out = new Printer()): Promise<BenchResult> {
  prereqs(['wrk', 'h2load', 'taskset', 'nginx', 'caddy']);
  out.line(`## tls: HTTPS with one ECDSA P-256 certificate — servers on CPU ${SERVER_CPU} (1 worker each), clients on CPU ${LOAD_CPU}, ${options.rounds} × ${options.durationS} s (median)`);
  const dir = tempDir('kirin-bench-tls-');
  chmodSync(dir, 0o755);
  const { cert, key } = await makeCertificate(dir);
  const ports = { kirin: await freePort(), kirinH2: await freePort(), https: await freePort(), http2: await freePort(), nginx: await freePort(), caddy: await freePort() };
  const servers: Server[] = [];
  try {
    servers.push(await startKirinTls(dir, ports.kirin, cert, key));
    servers.push(await startRaw('raw node:https', 'raw-https.ts', ports.https, cert, key));
    servers.push(await startRaw('raw node:http2', 'raw-http2.ts', ports.http2, cert, key));
    servers.push(await startNginxTls(dir, ports.nginx, cert, key));
    servers.push(await startCaddyTls(dir, ports.caddy, cert, key));
    const [kirin, rawHttps, rawHttp2, nginx, caddy] = servers as [Server, Server, Server, Server, Server];
    out.line('responses:');
    for (const server of servers) out.line(`  ${server.name.padEnd(16)} ${server === rawHttp2 ? await checkH2(server.url) : await check(server.url)}`);

    const http1 = [kirin, rawHttps, nginx, caddy];
    const contestants = (list: Server[], extra: Partial<Contestant> = {}): Contestant[] => list.map((s) => ({ name: s.name, url: s.url, pids: [s.pid], ...extra }));
    out.line('\nkeep-alive HTTPS (wrk -t1 -c50):');
    const keepAlive = await race(contestants(http1), options, out, rawHttps.name);
    out.line('\nnew TLS connection per request (wrk -t1 -c50 -H "Connection: close"):');
    const perRequest = await race(contestants(http1, { headers: ['Connection: close'] }), options, out, rawHttps.name);
    out.line('\nHTTP/2 (h2load -t1 -c50 -m10):');
    // Like for like: raw node:http2 is a process of its own that never served HTTP/1.1 either.
    const kirinH2 = await startKirinTls(join(dir, 'kirin-h2'), ports.kirinH2, cert, key);
    let h2: Map<string, RaceResult>;
    try {
      out.line(`  ${kirinH2.name.padEnd(16)} ${await checkH2(kirinH2.url)} (a fresh Kirin for this race)`);
      h2 = await race(contestants([kirinH2, rawHttp2, nginx, caddy], { tool: 'h2load' }), options, out, rawHttp2.name);
    } finally {
      await kirinH2.stop();
    }
    out.line('\nTLS handshakes, 16 clients, one request per connection (bench/tls/handshake-client.ts); server CPU per connection from /proc:');
    const handshakes = await raceHandshakes(http1, options, out);

    const rps = (m: Map<string, { requestsPerSec: number }>, s: Server) => m.get(s.name)?.requestsPerSec ?? 0;
    const paired = (m: Map<string, RaceResult>, a: Server, b: Server) => relative(m.get(a.name)!, m.get(b.name)!);
    out.line('');
    out.line(
      table(
        ['server', 'keep-alive req/s', 'new conn req/s', 'h2 req/s', 'full handshake µs CPU', 'resumed µs CPU', 'resumed share'],
        servers.map((s) => [
          s.name,
          s === rawHttp2 ? '-' : rps(keepAlive, s),
          s === rawHttp2 ? '-' : rps(perRequest, s),
          s === rawHttps ? '-' : rps(h2, s),
          s === rawHttp2 ? '-' : (handshakes.get(s.name)?.fullCpuUs ?? 0),
          s === rawHttp2 ? '-' : (handshakes.get(s.name)?.resumedCpuUs ?? 0),
          s === rawHttp2 ? '-' : `${Math.round((handshakes.get(s.name)?.reusedShare ?? 0) * 100)}%`,
        ]),
      ),
    );
    const kirinH = handshakes.get(kirin.name)!;
    const rawH = handshakes.get(rawHttps.name)!;
    // Connections a core can take = 1 / CPU per connection: the ratio of capacities is the inverse ratio of CPU times.
    const targets: Target[] = [
      ratioAtLeast(BENCH, 'keep-alive: Kirin vs raw node:https', paired(keepAlive, kirin, rawHttps), 1, 0.9, 'raw node:https'),
      ratioAtLeast(BENCH, 'keep-alive: Kirin vs Caddy', paired(keepAlive, kirin, caddy), 1, 1.3, 'Caddy'),
      ratioAtLeast(BENCH, 'new connection: Kirin vs raw node:https', paired(perRequest, kirin, rawHttps), 1, 0.9, 'raw node:https'),
      ratioAtLeast(BENCH, 'HTTP/2: Kirin vs raw node:http2', paired(h2, kirin, rawHttp2), 1, 0.9, 'raw node:http2'),
      ratioAtLeast(BENCH, 'HTTP/2: Kirin vs Caddy', paired(h2, kirin, caddy), 1, 1.3, 'Caddy'),
      ratioAtLeast(BENCH, 'full handshakes per core: Kirin vs raw node:https', 1 / kirinH.fullCpuUs, 1 / rawH.fullCpuUs, 0.9, 'raw node:https'),
      ratioAtLeast(BENCH, 'resumed handshakes per core: Kirin vs raw node:https', 1 / kirinH.resumedCpuUs, 1 / rawH.resumedCpuUs, 0.9, 'raw node:https'),
      {
        bench: BENCH,
        name: 'session resumption: Kirin resumes returning clients',
        measured: `${Math.round(kirinH.reusedShare * 100)}% resumed, ${(kirinH.fullCpuUs / Math.max(1, kirinH.resumedCpuUs)).toFixed(2)}× cheaper than a full handshake`,
        required: '100% resumed, cheaper than a full handshake',
        pass: kirinH.reusedShare > 0.99 && kirinH.resumedCpuUs < kirinH.fullCpuUs,
      },
    ];
    for (const t of targets) out.line(`${t.pass ? 'PASS' : 'FAIL'}  ${t.name}: ${t.measured} (required ${t.required})`);
    return { name: BENCH, targets, text: out.text };
  } finally {
    for (const server of servers.reverse()) await server.stop();
  }
}

async function startKirinTls(dir: string, port: number, cert: string, key: string): Promise<Server> {
  mkdirSync(dir, { recursive: true });
  const config = writeKirinTlsConfig(dir, port, cert, key, app('hello-fetch.ts'));
  const proc = launch({ name: 'kirin', command: NODE, args: [KIRIN_BIN, 'serve', '--config', config], cpu: SERVER_CPU, env: { NODE_ENV: 'production' } });
  await proc.waitForLine((line) => line.includes('"msg":"ready:'), 30_000, 'the ready line');
  return serverOf(proc, `https://${NAME}:${port}/`);
}

/** Starts a server on the server CPU and waits for its port. */
async function startPinned(name: string, command: string, args: string[], port: number, env?: NodeJS.ProcessEnv): Promise<Server> {
  const proc = launch({ name, command, args, cpu: SERVER_CPU, env });
  await waitForPort('127.0.0.1', port, 15_000, proc);
  return serverOf(proc, `https://${NAME}:${port}/`);
}

function startRaw(name: string, script: string, port: number, cert: string, key: string): Promise<Server> {
  return startPinned(name, NODE, [app(script)], port, { PORT: String(port), HOST: '127.0.0.1', CERT: cert, KEY: key, NODE_ENV: 'production' });
}

function startNginxTls(dir: string, port: number, cert: string, key: string): Promise<Server> {
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
${process.getuid?.() === 0 ? 'user root;\n' : ''}pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:10m;
  server {
    listen 127.0.0.1:${port} ssl http2;
    server_name ${NAME};
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    location / {
      default_type text/plain;
      return 200 '${HELLO}';
    }
  }
}
`,
  );
  return startPinned('nginx', 'nginx', ['-p', dir, '-c', conf, '-e', 'stderr'], port);
}

function startCaddyTls(dir: string, port: number, cert: string, key: string): Promise<Server> {
  const caddyfile = join(dir, 'Caddyfile');
  writeFileSync(
    caddyfile,
    `{
	admin off
	auto_https off
	log {
		level WARN
	}
}

https://${NAME}:${port} {
	bind 127.0.0.1
	tls ${cert} ${key}
	respond "${HELLO}" 200
}
`,
  );
  // Caddy keeps state under $HOME / $XDG_*: keep it in the temporary folder.
  return startPinned('caddy', 'caddy', ['run', '--config', caddyfile, '--adapter', 'caddyfile'], port, { HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') });
}

/** What a server answers, to compare like with like ("200 13 B"). */
function check(url: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, servername: NAME, path: '/', headers: { host: NAME }, rejectUnauthorized: false, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        if (body !== HELLO) reject(new Error(`${url} answered ${res.statusCode} "${body}", not "${HELLO}"`));
        else resolve(`${res.statusCode} ${body.length} B${res.headers['strict-transport-security'] ? ' + HSTS header' : ''}`);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url} timed out`)));
    req.on('error', reject);
  });
}

function checkH2(url: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const session = connectH2(url, { createConnection: () => tlsConnect({ host: '127.0.0.1', port: Number(port), servername: NAME, rejectUnauthorized: false, ALPNProtocols: ['h2'] }) });
    session.on('error', reject);
    const stream = session.request({ ':path': '/' });
    let body = '';
    let status = 0;
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
    stream.on('end', () => {
      session.close();
      if (body !== HELLO) reject(new Error(`${url} answered ${status} "${body}" over HTTP/2, not "${HELLO}"`));
      else resolve(`${status} ${body.length} B (HTTP/2 only)`);
    });
    stream.end();
  });
}

interface HandshakeResult {
  /** Handshakes per second the client got (it may be the bottleneck: one Node process on one core). */
  full: number;
  resumed: number;
  /** Server CPU per connection (handshake + one request), microseconds: what a core can take. */
  fullCpuUs: number;
  resumedCpuUs: number;
  /** Share of the "resume" connections that were resumed. */
  reusedShare: number;
}

/** Full and resumed handshakes per server: the client's rate, and the server's CPU time per connection (from /proc). */
async function raceHandshakes(servers: Server[], options: BenchOptions, out: Printer): Promise<Map<string, HandshakeResult>> {
  const runs = new Map<string, HandshakeResult[]>(servers.map((s) => [s.name, []]));
  const client = async (port: string, mode: 'full' | 'resume', seconds: number) => {
    const command = pinned(LOAD_CPU, NODE, [join(import.meta.dirname, 'tls', 'handshake-client.ts'), port, NAME, mode, '16', String(seconds), '0']);
    const { stdout } = await run$(command.command, command.args, { timeout: (seconds + 30) * 1000 });
    return JSON.parse(stdout) as { perSec: number; connections: number; reused: number; failures: number };
  };
  for (let round = 0; round < options.rounds; round++) {
    for (let i = 0; i < servers.length; i++) {
      const server = servers[(i + round) % servers.length]!;
      const port = new URL(server.url).port;
      const result: HandshakeResult = { full: 0, resumed: 0, fullCpuUs: 0, resumedCpuUs: 0, reusedShare: 0 };
      for (const mode of ['full', 'resume'] as const) {
        await client(port, mode, options.warmupS);
        const before = sampleCpu([server.pid]);
        const measured = await client(port, mode, options.durationS);
        const after = sampleCpu([server.pid]);
        const cpuUs = ((after.treeTicks - before.treeTicks) * 10_000) / Math.max(1, measured.connections);
        if (mode === 'full') Object.assign(result, { full: measured.perSec, fullCpuUs: cpuUs });
        else Object.assign(result, { resumed: measured.perSec, resumedCpuUs: cpuUs, reusedShare: measured.reused });
      }
      runs.get(server.name)!.push(result);
      out.line(
        `  round ${round + 1}/${options.rounds}  ${server.name.padEnd(16)} full ${Math.round(result.full).toString().padStart(5)}/s ${result.fullCpuUs.toFixed(0).padStart(4)} µs CPU each  resumed ${Math.round(result.resumed).toString().padStart(5)}/s ${result.resumedCpuUs.toFixed(0).padStart(4)} µs CPU each (${Math.round(result.reusedShare * 100)}% resumed)`,
      );
    }
  }
  return new Map(
    [...runs].map(([name, list]) => [
      name,
      {
        full: median(list.map((r) => r.full)),
        resumed: median(list.map((r) => r.resumed)),
        fullCpuUs: median(list.map((r) => r.fullCpuUs)),
        resumedCpuUs: median(list.map((r) => r.resumedCpuUs)),
        reusedShare: Math.min(...list.map((r) => r.reusedShare)),
      },
    ]),
  );
}

if (import.meta.main) {
  const { options } = parseBenchOptions(process.argv.slice(2));
  await run(options);
}
