/**
 * What sticky routing's forwarding costs over HTTPS (docs/app-server.md,
 * "Socket.IO across workers", Cost): polling POSTs (engine.io pongs) of one
 * Socket.IO session, with 1 worker (every request served where it lands) and
 * with 4 (a request that lands on a worker other than the session's goes to
 * it over its peer socket, src/worker/sticky/forward.ts):
 *
 *   new connection  each POST on a new TLS connection, as socket.io-client
 *                   sends them in Node: with 4 workers about 3 in 4 forwarded
 *   kept alive      every POST on one kept-alive TLS connection; with 4
 *                   workers one that another worker accepted: all forwarded
 *
 * Prints the median and p90 in ms per case and round.
 * Usage: node bench/experiments/sticky-forward.ts [--requests N (400)] [--rounds R (3)]
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { request, type RequestOptions } from '../../test/support/http.ts';
import { portOf, ROOT, startKirin, tempDir, writeFiles, type KirinProcess } from '../../test/support/kirin.ts';

const CHAT_APP = join(ROOT, 'test/fixtures/apps/socket-io-chat.mjs');
const POLL_HEADERS = { 'content-type': 'text/plain;charset=UTF-8' };

const { values } = parseArgs({ options: { requests: { type: 'string', default: '400' }, rounds: { type: 'string', default: '3' } } });
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);

async function start(workers: number): Promise<{ kirin: KirinProcess; url: string; ca: Buffer }> {
  const dir = tempDir('kirin-sticky-forward-');
  writeFiles(dir, {
    'kirin.config.json': JSON.stringify({
      sticky: true,
      workers,
      admin: false,
      accessLog: false,
      stateDir: './state',
      listen: { https: ['127.0.0.1:0'] },
      sites: { localhost: { hsts: false, '/': { app: CHAT_APP } } },
    }),
  });
  const kirin = await startKirin({ cwd: dir, args: ['serve', '--config', 'kirin.config.json'] });
  return { kirin, url: `https://localhost:${portOf(kirin.urls[0]!)}`, ca: readFileSync(join(dir, 'state', 'tls', 'local-ca', 'root.crt')) };
}

/** A new polling session: its id and the pid of the worker that holds it. */
async function handshake(url: string, ca: Buffer): Promise<{ sid: string; owner: number }> {
  const open = await request(`${url}/socket.io/?EIO=4&transport=polling`, { ca, agent: false });
  const sid = (JSON.parse(open.body.slice(1)) as { sid: string }).sid;
  return { sid, owner: Number.parseInt(sid.slice(0, sid.indexOf('.')), 36) };
}

/** Milliseconds per pong POST, sent one after another. */
async function pongs(url: string, sid: string, options: RequestOptions): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const started = performance.now();
    const res = await request(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { ...options, method: 'POST', body: '3', headers: POLL_HEADERS });
    times.push(performance.now() - started);
    if (res.status !== 200) throw new Error(`pong ${i}: ${res.status} ${res.body}`);
  }
  return times;
}

/** A kept-alive connection accepted by a worker other than `owner` (or by it, with one worker). */
async function keptAliveConnection(url: string, ca: Buffer, owner: number, workers: number): Promise<Agent> {
  for (let i = 0; i < 100; i++) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca });
    const res = await request(`${url}/`, { agent });
    if (workers === 1 || res.body !== `pid ${owner}`) return agent;
    agent.destroy();
  }
  throw new Error('no connection landed on another worker in 100 tries');
}

function percentile(times: number[], p: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

const ms = (value: number) => value.toFixed(2);

console.log(`sticky forwarding over HTTPS: ${REQUESTS} pong POSTs of one session per case, ${ROUNDS} round(s)`);
console.log('workers  connection      median ms  p90 ms');
for (let round = 1; round <= ROUNDS; round++) {
  for (const workers of [1, 4]) {
    const { kirin, url, ca } = await start(workers);
    try {
      const { sid, owner } = await handshake(url, ca);
      const fresh = await pongs(url, sid, { ca, agent: false });
      const agent = await keptAliveConnection(url, ca, owner, workers);
      const kept = await pongs(url, sid, { agent });
      agent.destroy();
      console.log(`${String(workers).padEnd(8)} new connection  ${ms(percentile(fresh, 50)).padStart(9)}  ${ms(percentile(fresh, 90)).padStart(6)}   (round ${round})`);
      console.log(`${String(workers).padEnd(8)} kept alive      ${ms(percentile(kept, 50)).padStart(9)}  ${ms(percentile(kept, 90)).padStart(6)}   (round ${round})`);
    } finally {
      await kirin.stop();
    }
  }
}
