/**
 * One upstream of a proxy route as a worker sees it: its keep-alive connection
 * pool and what the worker knows about its health.
 *
 * Health has two sources that are kept apart: the active check (`healthy`)
 * and passive failures (`fails`, `downUntil`), so a passing check can bring a
 * target back early and a failing one keeps it out however requests fare.
 */
import { Pool } from 'undici';
import { RelayPool } from './relay.ts';
import type { UpstreamAddress } from './upstream-address.ts';

export interface PoolOptions {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
}

export class Target {
  readonly address: UpstreamAddress;
  readonly pool: Pool;
  /** The fast lane's raw connections (relay.ts); null for an https upstream, which only the full path reaches. */
  readonly relay: RelayPool | null;
  /** For balancers that need a stable identity (ip_hash). */
  readonly key: string;
  /** Requests in flight from this worker (least_conn). */
  active = 0;
  /** What the last active health check said; true until a check says otherwise. */
  healthy = true;
  /** Failures in a row (passive health). */
  fails = 0;
  /** Passive health: out until this time (ms since epoch); 0 when in. */
  downUntil = 0;
  /** What was last reported to the master, so only changes are reported. */
  reportedHealthy = true;

  constructor(address: UpstreamAddress, options: PoolOptions) {
    this.address = address;
    this.key = address.url;
    this.pool = new Pool(address.origin, {
      socketPath: address.socketPath ?? undefined,
      connectTimeout: options.connectTimeoutMs,
      // Streams (SSE, long polls, downloads) may be quiet for long; the response timeout covers the wait for headers.
      bodyTimeout: 0,
      // Node's default keep-alive is 5 s; undici also honours the upstream's `Keep-Alive: timeout=` hint.
      keepAliveTimeout: 4_000,
      pipelining: 1,
    });
    this.relay = address.socketPath !== null || address.origin.startsWith('http:') ? new RelayPool(address, options) : null;
  }

  /** Usable for a new request right now. */
  available(now: number): boolean {
    return this.healthy && this.downUntil <= now;
  }

  toString(): string {
    return this.address.url;
  }
}
