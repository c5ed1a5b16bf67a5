/**
 * WebSocket echo race (issue 14): Kirin with one worker serving an app whose
 * `setup(server)` attaches a `ws` echo, against the same echo on a raw
 * node:http server. The same client for both — 50 connections, each sending a
 * 64-byte message as soon as the last one came back — in interleaved rounds;
 * the medians of messages/s and p99 round-trip count. Then memory per idle
 * WebSocket: the server tree's RSS before and after opening 2000 idle sockets.
 * Target: Kirin >= 0.95 × raw ws in messages/s.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { freePort } from '../test/support/kirin.ts';
import { parseBenchOptions, type BenchOptions } from './lib/options.ts';
import { app } from './lib/paths.ts';
import { startKirin } from './lib/peers/kirin.ts';
import { startNodeApp } from './lib/peers/node-servers.ts';
import { fmt, median, Printer, ratioAtLeast, table, type BenchResult, type Target } from './lib/report.ts';
import { megabytes, treeRss } from './lib/rss.ts';
import type { Server } from './lib/server.ts';

const BENCH = 'ws';
const CONNECTIONS = 50;
const IDLE_SOCKETS = 2000;
const MESSAGE = Buffer.alloc(64, 0x61);
const SERVER_CPU = 1;

interface Round {
  messagesPerSecond: number;
  p99Ms: number;
}

async function openSockets(url: string, count: number): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, () => new WebSocket(url, { perMessageDeflate: false }));
    await Promise.all(batch.map((ws) => new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))));
    sockets.push(...batch);
  }
  return sockets;
}

/** Every connection sends, waits for the echo, sends again, for `seconds`; latencies of the measured part only. */
async function echoRound(url: string, warmupS: number, seconds: number): Promise<Round> {
  const sockets = await openSockets(url, CONNECTIONS);
  let measuring = false;
  let running = true;
  let count = 0;
  const latencies: number[] = [];
  for (const ws of sockets) {
    let sentAt = 0;
    const send = () => {
      sentAt = performance.now();
      ws.send(MESSAGE);
    };
    ws.on('message', () => {
      if (measuring) {
        count++;
        latencies.push(performance.now() - sentAt);
      }
      if (running) send();
    });
    send();
  }
  await delay(warmupS * 1000);
  measuring = true;
  const start = performance.now();
  await delay(seconds * 1000);
  measuring = false;
  const elapsed = (performance.now() - start) / 1000;
  running = false;
  for (const ws of sockets) ws.terminate();
  latencies.sort((a, b) => a - b);
  return { messagesPerSecond: count / elapsed, p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0 };
}

async function idleMemory(server: Server, url: string): Promise<number> {
  const before = treeRss(server.pid).totalBytes;
  const sockets = await openSockets(url, IDLE_SOCKETS);
  // Let the server settle (its heap grows in steps); a fixed pause, not readiness: the sockets are open already.
  await delay(1000);
  const after = treeRss(server.pid).totalBytes;
  for (const ws of sockets) ws.terminate();
  return (after - before) / IDLE_SOCKETS;
}

export async function run(options: BenchOptions, out = new Printer()): Promise<BenchResult> {
  out.line(`## ${BENCH}: WebSocket echo, ${CONNECTIONS} connections ping-ponging 64-byte messages; server on CPU ${SERVER_CPU}`);
  const kirinPort = await freePort();
  const rawPort = await freePort();
  const kirin = await startKirin({ name: 'kirin (1 worker)', app: app('ws-kirin.ts'), port: kirinPort, workers: 1, accessLog: 'off', cpu: SERVER_CPU });
  const raw = await startNodeApp({ name: 'raw ws on node:http', script: 'ws-raw.ts', port: rawPort, cpu: SERVER_CPU });
  const servers = [
    { server: kirin, url: `ws://127.0.0.1:${kirinPort}/`, rounds: [] as Round[] },
    { server: raw, url: `ws://127.0.0.1:${rawPort}/`, rounds: [] as Round[] },
  ];
  try {
    for (let round = 0; round < options.rounds; round++) {
      for (const entry of round % 2 === 0 ? servers : [...servers].reverse()) entry.rounds.push(await echoRound(entry.url, options.warmupS, options.durationS));
    }
    const memory: number[] = [];
    for (const entry of servers) memory.push(await idleMemory(entry.server, entry.url));
    const rows = servers.map((entry, i) => {
      const mps = median(entry.rounds.map((r) => r.messagesPerSecond));
      const p99 = median(entry.rounds.map((r) => r.p99Ms));
      return [entry.server.name, fmt(mps), p99.toFixed(2), `${(memory[i]! / 1024).toFixed(1)} KB`];
    });
    out.line(table(['server', 'messages/s (median)', 'p99 ms', 'RSS per idle WebSocket'], rows));
    const kirinMps = median(servers[0]!.rounds.map((r) => r.messagesPerSecond));
    const rawMps = median(servers[1]!.rounds.map((r) => r.messagesPerSecond));
    const kirinP99 = median(servers[0]!.rounds.map((r) => r.p99Ms));
    const rawP99 = median(servers[1]!.rounds.map((r) => r.p99Ms));
    out.line(`ratio: ${(kirinMps / rawMps).toFixed(2)}× raw ws messages/s; p99 ${(kirinP99 / rawP99).toFixed(2)}× raw; memory per 1000 idle sockets ${megabytes(memory[0]! * 1000)} MB vs ${megabytes(memory[1]! * 1000)} MB`);
    const targets: Target[] = [ratioAtLeast(BENCH, 'WebSocket echo messages/s, Kirin 1 worker vs raw ws', kirinMps, rawMps, 0.95, 'raw ws')];
    return { name: BENCH, targets, text: out.text };
  } finally {
    await Promise.all(servers.map((entry) => entry.server.stop()));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { options } = parseBenchOptions(process.argv.slice(2));
  await run(options);
}
