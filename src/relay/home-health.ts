/**
 * Is the home end reachable? Each relay worker keeps its own answer from two
 * sources: the connections it forwards (a connect that fails is a failure, one
 * that succeeds a success) and a probe, a TCP connect to each relayed port
 * with a PROXY LOCAL header, every few seconds (every second while down, so a
 * home that comes back is served again within about a second).
 *
 * Two failures in a row make it down; one success makes it up again. Changes
 * go to the master as `upstream-health` reports, the same vocabulary proxy
 * upstreams use, so /metrics (kirin_upstream_up), the dashboard and the
 * upstream-down/-up alerts cover the home end without a second path.
 */
import { connect } from 'node:net';
import type { Logger } from '../observe/log.ts';
import { encodeLocalHeader } from './proxy-protocol.ts';

const PROBE_UP_MS = 5_000;
const PROBE_DOWN_MS = 1_000;
const FAILURES_TO_DOWN = 2;

export interface HomeHealthOptions {
  host: string;
  ports: number[];
  connectTimeoutMs: number;
  logger: Logger;
  /** Called on each change of state, with the reason for a change to down. */
  onChange(healthy: boolean, reason: string): void;
}

export class HomeHealth {
  readonly #options: HomeHealthOptions;
  #healthy = true;
  #failures = 0;
  #timer: NodeJS.Timeout | null = null;
  #probing = false;
  #closed = false;

  constructor(options: HomeHealthOptions) {
    this.#options = options;
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  start(): void {
    this.#schedule(PROBE_UP_MS);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  succeeded(): void {
    this.#failures = 0;
    if (!this.#healthy) this.#set(true, 'a connection succeeded');
  }

  /** A forwarded connection could not reach home: count it, and probe now to confirm or clear it. */
  failed(reason: string): void {
    this.#failure(reason);
    if (this.#healthy) void this.#probe();
  }

  #failure(reason: string): void {
    this.#failures++;
    if (this.#healthy && this.#failures >= FAILURES_TO_DOWN) this.#set(false, reason);
  }

  #set(healthy: boolean, reason: string): void {
    this.#healthy = healthy;
    this.#options.onChange(healthy, reason);
    this.#schedule(healthy ? PROBE_UP_MS : PROBE_DOWN_MS);
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#probe(), ms);
    this.#timer.unref();
  }

  async #probe(): Promise<void> {
    if (this.#probing || this.#closed) return;
    this.#probing = true;
    const results = await Promise.all(this.#options.ports.map((port) => this.#probePort(port)));
    this.#probing = false;
    if (this.#closed) return;
    const failure = results.every((r) => r !== null) ? results[0]! : null;
    if (failure === null) this.succeeded();
    else this.#failure(failure);
    this.#schedule(this.#healthy ? PROBE_UP_MS : PROBE_DOWN_MS);
  }

  /** Resolves null when the port accepted a connection, else why not. */
  #probePort(port: number): Promise<string | null> {
    const { host, connectTimeoutMs } = this.#options;
    return new Promise((resolve) => {
      const socket = connect({ host, port, timeout: connectTimeoutMs });
      const done = (result: string | null) => {
        socket.destroy();
        resolve(result);
      };
      socket.once('connect', () => {
        socket.end(encodeLocalHeader());
        socket.setTimeout(0);
        resolve(null);
      });
      socket.once('timeout', () => done(`no answer from ${host}:${port} within ${connectTimeoutMs / 1000} s (is the WireGuard tunnel up?)`));
      socket.once('error', (error: NodeJS.ErrnoException) => done(describeConnectError(error, host, port)));
    });
  }
}

export function describeConnectError(error: NodeJS.ErrnoException, host: string, port: number): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return `${host}:${port} refused the connection (is Kirin running at home, listening on ${host}:${port}?)`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${host} is unreachable (${error.code}: is the WireGuard tunnel up?)`;
    default:
      return `${host}:${port}: ${error.code ?? error.message}`;
  }
}
