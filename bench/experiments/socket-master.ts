/**
 * Prototype master for bench/experiments/socket-strategies.ts: N workers of
 * bench/experiments/socket-worker.ts; on SIGHUP a new generation starts, and
 * once all of it is ready the old one drains — Kirin's reload, reduced to the
 * listening-socket question. Log lines mimic Kirin's ("ready:", "reloaded:").
 *
 *   node socket-master.ts --mode shared|reuseport --port P [--workers N]
 *
 * shared     the master binds without listening (Kirin's src/master/listeners.ts)
 *            and every worker of every generation accepts on that one socket
 * reuseport  each worker opens its own SO_REUSEPORT socket; the kernel spreads
 *            new connections over them by a hash of the address pair
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ListenAddress } from '../../src/config/plan.ts';
import { openListener } from '../../src/master/listeners.ts';

const { values } = parseArgs({ options: { mode: { type: 'string' }, port: { type: 'string' }, workers: { type: 'string', default: '2' } } });
const mode = values.mode === 'shared' ? 'shared' : 'reuseport';
const port = Number(values.port);
const size = Number(values.workers);
const WORKER = fileURLToPath(new URL('./socket-worker.ts', import.meta.url));

const address: ListenAddress = { kind: 'tcp', host: '127.0.0.1', port, path: '', fd: -1, spec: `127.0.0.1:${port}` };
const shared = mode === 'shared' ? openListener(address, false) : null;

let generation = 0;
let current: ChildProcess[] = [];
let reloading = false;
let queued = false;

function log(msg: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ ...extra, msg })}\n`);
}

function startGeneration(): Promise<ChildProcess[]> {
  generation++;
  const workers = Array.from({ length: size }, () =>
    spawn(process.execPath, [WORKER], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...(shared ? [shared.fd] : [])],
      env: { ...process.env, MODE: mode, HOST: '127.0.0.1', PORT: String(port) },
    }),
  );
  return Promise.all(workers.map((w) => new Promise<void>((resolve) => w.once('message', () => resolve())))).then(() => workers);
}

async function reload(): Promise<void> {
  if (reloading) {
    queued = true;
    return;
  }
  reloading = true;
  const old = current;
  current = await startGeneration();
  for (const worker of old) worker.send({ t: 'drain' });
  log(`reloaded: generation ${generation}`, { pids: current.map((w) => w.pid) });
  reloading = false;
  if (queued) {
    queued = false;
    void reload();
  }
}

process.on('SIGHUP', () => void reload());
process.on('SIGTERM', () => {
  for (const worker of current) worker.kill('SIGTERM');
  process.exit(0);
});

current = await startGeneration();
log(`ready: ${mode} on 127.0.0.1:${port} with ${size} workers`, { pids: current.map((w) => w.pid) });
