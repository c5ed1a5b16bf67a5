/**
 * Latency at a fixed offered rate (open loop, as wrk2 measures it; Debian has
 * no wrk2): requests are issued on a schedule, R per second, whether or not
 * the earlier ones have been answered, so a slow path cannot slow the client
 * down and hide its own slowness (wrk's closed loop at saturation measures
 * queueing: its p99 is about connections ÷ throughput). For "what does this
 * hop add to a request's latency", below saturation.
 *
 * HTTPS only, HTTP/1.1 GET to a "Hello, world!"-sized answer, TLS certificates
 * not checked (as wrk). Two modes:
 *   new         a new TLS connection per request (Connection: close)
 *   keep-alive  a pool of connections opened first; a request waits for a free one, and that wait counts
 * A request's latency runs from the moment it was due (its slot in the
 * schedule) to the end of its answer. The client's own lag (a slot taken late
 * because the client's core was busy) is reported apart: when it is large the
 * client, not the path, was the limit and the run says so.
 *
 * Runs as its own process (pinned like wrk): `node bench/lib/open-loop.ts URL RATE SECONDS new|keep-alive`
 * prints one JSON line; runOpenLoop() starts it and reads that line. With OPEN_LOOP_LATENCIES=FILE it also
 * appends every answered request's latency (ms) to FILE as one JSON line per run, to pool rounds
 * (docs/benchmarks.md, relay, keep-alive p99).
 */
import { appendFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';
import { execTimed } from './cpu.ts';
import { NODE } from './paths.ts';
import { LOAD_CPU, pinned } from './pin.ts';

export type OpenLoopMode = 'new' | 'keep-alive';

export interface OpenLoopResult {
  rate: number;
  sent: number;
  completed: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  /** 99th percentile of how late the client issued a request after its slot. */
  lagP99Ms: number;
  /** CPU time the client used, in clock ticks. */
  cpuTicks: number;
}

/** Keep-alive pool: enough that a request rarely waits for a connection below saturation. */
const POOL = 16;

export async function runOpenLoop(url: string, rate: number, durationS: number, mode: OpenLoopMode, cpu: number | null = LOAD_CPU): Promise<OpenLoopResult> {
  // --no-deprecation: the bench's sites are IP addresses, sent as SNI as wrk sends them (DEP0123 warns about it).
  const command = pinned(cpu, NODE, ['--no-deprecation', new URL(import.meta.url).pathname, url, String(rate), String(durationS), mode]);
  const { stdout, cpuTicks } = await execTimed(command.command, command.args, (durationS + 30) * 1000);
  return { ...(JSON.parse(stdout.trim().split('\n').at(-1)!) as Omit<OpenLoopResult, 'cpuTicks'>), cpuTicks };
}

async function main(url: URL, rate: number, durationS: number, mode: OpenLoopMode): Promise<void> {
  const host = url.hostname;
  const port = Number(url.port || 443);
  const request = Buffer.from(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\n${mode === 'new' ? 'Connection: close\r\n' : ''}\r\n`);
  const latencies: number[] = [];
  const lags: number[] = [];
  let failed = 0;
  const open = () => connect({ host, port, servername: host, rejectUnauthorized: false });

  const idle: TLSSocket[] = [];
  const waiting: number[] = [];
  const finish = (due: number, ok: boolean) => {
    if (ok) latencies.push(performance.now() - due);
    else failed++;
  };
  /** Sends on a pooled connection; its answer frees it for the next waiting request. */
  const pending = new Map<TLSSocket, () => void>();
  const sendPooled = (socket: TLSSocket, due: number) => {
    pending.set(socket, readAnswer(socket, (ok) => {
      finish(due, ok);
      if (!ok) return socket.destroy();
      const next = waiting.shift();
      if (next === undefined) idle.push(socket);
      else sendPooled(socket, next);
    }));
    socket.write(request);
  };
  if (mode === 'keep-alive') {
    for (let i = 0; i < POOL; i++) {
      const socket = open();
      await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      socket.on('error', () => {});
      socket.on('close', () => pending.get(socket)?.());
      idle.push(socket);
    }
  }
  const issue = (due: number) => {
    if (mode === 'keep-alive') {
      const socket = idle.pop();
      if (socket) sendPooled(socket, due);
      else waiting.push(due);
      return;
    }
    const socket = open();
    socket.once('secureConnect', () => socket.write(request));
    const fail = readAnswer(socket, (ok) => {
      finish(due, ok);
      socket.destroy();
    });
    socket.once('error', fail);
    socket.once('close', fail);
  };

  const total = Math.round(rate * durationS);
  const interval = 1000 / rate;
  const start = performance.now() + 10;
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + sent * interval <= now) {
        const due = start + sent * interval;
        lags.push(now - due);
        issue(due);
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
      else resolve();
    };
    setTimeout(tick, 10);
  });
  // The last answers: at most a few seconds past the schedule's end.
  const deadline = performance.now() + 5_000;
  while (latencies.length + failed < total && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  failed += total - latencies.length - failed;
  for (const socket of idle) socket.destroy();
  const sorted = Float64Array.from(latencies).sort();
  const sortedLags = Float64Array.from(lags).sort();
  const at = (values: Float64Array, q: number) => (values.length === 0 ? NaN : values[Math.min(values.length - 1, Math.floor(q * values.length))]!);
  if (process.env.OPEN_LOOP_LATENCIES) appendFileSync(process.env.OPEN_LOOP_LATENCIES, `${JSON.stringify({ url: url.href, latencies: latencies.map((ms) => Math.round(ms * 100) / 100) })}\n`);
  process.stdout.write(`${JSON.stringify({ rate, sent, completed: latencies.length, failed, p50Ms: at(sorted, 0.5), p99Ms: at(sorted, 0.99), lagP99Ms: at(sortedLags, 0.99) })}\n`);
  process.exit(0);
}

/**
 * Reads one HTTP/1.1 answer with a Content-Length (the bench's apps send one) and calls `done(true)` once
 * its body is in; the returned function fails it (the socket closed or failed first).
 */
function readAnswer(socket: TLSSocket, done: (ok: boolean) => void): () => void {
  let head = '';
  let bodyLeft = -1;
  let settled = false;
  const settle = (ok: boolean) => {
    if (settled) return;
    settled = true;
    socket.off('data', onData);
    done(ok);
  };
  const onData = (chunk: Buffer) => {
    if (bodyLeft === -1) {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head.slice(0, end));
      if (!head.startsWith('HTTP/1.1 200') || !length) return settle(false);
      bodyLeft = Number(length[1]) - (head.length - end - 4);
    } else bodyLeft -= chunk.length;
    if (bodyLeft <= 0) settle(true);
  };
  socket.on('data', onData);
  return () => settle(false);
}

if (import.meta.main) {
  const [url, rate, seconds, mode] = process.argv.slice(2);
  if (!url || !(Number(rate) > 0) || !(Number(seconds) > 0) || (mode !== 'new' && mode !== 'keep-alive')) {
    throw new Error('usage: node bench/lib/open-loop.ts https://HOST:PORT/ RATE SECONDS new|keep-alive');
  }
  await main(new URL(url), Number(rate), Number(seconds), mode);
}
