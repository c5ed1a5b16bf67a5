/**
 * wrk (Debian's) as the load generator for throughput: 1 thread, 50
 * keep-alive connections, pinned to the load CPU (ANCHORS.md's settings),
 * with --latency for the percentiles. One runner for every peer, so every
 * number in a table comes from the same client.
 */
import { execTimed } from './cpu.ts';
import { LOAD_CPU, pinned } from './pin.ts';

export interface WrkOptions {
  url: string;
  /** Seconds of load. */
  durationS: number;
  connections?: number;
  threads?: number;
  /** Extra request headers, "Name: value". */
  headers?: string[];
  /** wrk's per-request timeout in seconds (its default is 2). */
  timeoutS?: number;
  cpu?: number | null;
}

export interface WrkResult {
  requestsPerSec: number;
  requests: number;
  /** Latency percentiles in milliseconds. */
  p50Ms: number;
  p99Ms: number;
  /** Bytes read per second. */
  transferPerSec: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** Responses that were not 2xx or 3xx. */
  non2xx: number;
  /** CPU time wrk used, in clock ticks (0 when parsed from text alone). */
  cpuTicks: number;
  raw: string;
}

export const DEFAULT_CONNECTIONS = 50;

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = [
    `-t${options.threads ?? 1}`,
    `-c${options.connections ?? DEFAULT_CONNECTIONS}`,
    `-d${options.durationS}s`,
    `--timeout`,
    `${options.timeoutS ?? 2}s`,
    '--latency',
  ];
  for (const header of options.headers ?? []) args.push('-H', header);
  args.push(options.url);
  const command = pinned(options.cpu === undefined ? LOAD_CPU : options.cpu, 'wrk', args);
  const { stdout, cpuTicks } = await execTimed(command.command, command.args, (options.durationS + 30) * 1000);
  return { ...parseWrk(stdout), cpuTicks };
}

/** Parses wrk's text report (with --latency). */
export function parseWrk(text: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  const total = /^\s*(\d+) requests in/m.exec(text);
  if (!rps || !total) throw new Error(`wrk printed no result:\n${text}`);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const transfer = /^Transfer\/sec:\s+([\d.]+)(\w+)/m.exec(text);
  return {
    requestsPerSec: Number(rps[1]),
    requests: Number(total[1]),
    p50Ms: percentile(text, '50%'),
    p99Ms: percentile(text, '99%'),
    transferPerSec: transfer ? Number(transfer[1]) * sizeUnit(transfer[2]!) : 0,
    socketErrors: {
      connect: Number(errors?.[1] ?? 0),
      read: Number(errors?.[2] ?? 0),
      write: Number(errors?.[3] ?? 0),
      timeout: Number(errors?.[4] ?? 0),
    },
    non2xx: Number(non2xx?.[1] ?? 0),
    cpuTicks: 0,
    raw: text,
  };
}

/** Failed requests wrk saw: socket errors and non-2xx/3xx responses. */
export function wrkFailures(result: WrkResult): number {
  const e = result.socketErrors;
  return e.connect + e.read + e.write + e.timeout + result.non2xx;
}

function percentile(text: string, label: string): number {
  const match = new RegExp(`^\\s+${label}\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(text);
  if (!match) throw new Error(`wrk printed no ${label} latency (run with --latency):\n${text}`);
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

/** wrk's and h2load's size units ("KB", "MB") in bytes. */
export function sizeUnit(unit: string): number {
  return { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[unit] ?? 1;
}
