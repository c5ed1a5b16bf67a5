/**
 * h2load (Debian's nghttp2-client) as the HTTP/2 load generator, shaped like
 * wrk's result so bench/lib/race.ts races HTTP/2 the same way (paired around
 * a baseline, disturbed runs repeated). 1 thread, 50 connections, 10 streams
 * each, pinned to the load CPU. The connections are opened during a short
 * warm-up inside the run (--warm-up-time), so the 50 TLS handshakes are not
 * counted in the req/s (the clock starts once all are up). h2load prints no
 * percentiles: the latencies are NaN.
 */
import { execTimed } from './cpu.ts';
import { LOAD_CPU, pinned } from './pin.ts';
import { sizeUnit, type WrkResult } from './wrk.ts';

export interface H2loadOptions {
  /** An https:// URL; its host name is sent as SNI and :authority, the connection goes to 127.0.0.1. */
  url: string;
  durationS: number;
  connections?: number;
  /** Concurrent streams per connection. */
  streams?: number;
}

export async function runH2load(options: H2loadOptions): Promise<WrkResult> {
  const { port } = new URL(options.url);
  const args = ['-t1', `-c${options.connections ?? 50}`, `-m${options.streams ?? 10}`, '-D', String(options.durationS), '--warm-up-time=500ms', `--connect-to=127.0.0.1:${port}`, options.url];
  const command = pinned(LOAD_CPU, 'h2load', args);
  const { stdout, cpuTicks } = await execTimed(command.command, command.args, (options.durationS + 30) * 1000);
  return { ...parseH2load(stdout), cpuTicks };
}

/** Parses h2load's report; refuses one that did not speak HTTP/2. */
export function parseH2load(text: string): WrkResult {
  const rps = /finished in [^,]+, ([\d.]+) req\/s, ([\d.]+)(\w*B)\/s/.exec(text);
  const requests = /requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, \d+ failed, (\d+) errored, (\d+) timeout/.exec(text);
  const statuses = /status codes: \d+ 2xx, \d+ 3xx, (\d+) 4xx, (\d+) 5xx/.exec(text);
  if (!rps || !requests || !statuses) throw new Error(`h2load printed no result:\n${text}`);
  const protocol = /Application protocol: (\S+)/.exec(text)?.[1];
  if (protocol !== 'h2') throw new Error(`h2load negotiated ${protocol ?? 'no protocol'}, not h2:\n${text}`);
  return {
    requestsPerSec: Number(rps[1]),
    requests: Number(requests[1]),
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    transferPerSec: Number(rps[2]) * sizeUnit(rps[3]!),
    socketErrors: { connect: 0, read: Number(requests[2]), write: 0, timeout: Number(requests[3]) },
    non2xx: Number(statuses[1]) + Number(statuses[2]),
    cpuTicks: 0,
    raw: text,
  };
}
