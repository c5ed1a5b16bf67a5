/**
 * Messages between the master and its workers (over the IPC channel), and from a
 * worker's watchdog thread (over a pipe, because a blocked main thread cannot
 * send anything).
 */
import type { ServePlan } from './config/plan.ts';

export interface ListenerFd {
  /** The descriptor number inside the worker. */
  fd: number;
  secure: boolean;
  spec: string;
  /** Connections start with a PROXY protocol v2 header (src/relay/proxy-listener.ts). */
  proxyProtocol?: boolean;
}

/** Descriptor layout of a worker: 0-2 stdio, 3 IPC, 4 watchdog pipe, 5+ listeners. */
export const WATCHDOG_FD = 4;
export const FIRST_LISTENER_FD = 5;

export type MasterMessage =
  | { t: 'init'; plan: ServePlan; generation: number; index: number; listeners: ListenerFd[]; maxRequests: number }
  | { t: 'drain' }
  | { t: 'reopen-logs' }
  | { t: 'reply'; id: number; ok: boolean; value?: unknown; error?: string }
  | { t: 'push'; type: string; payload: unknown }
  /** With the connection's handle: a connection another worker accepted for a Socket.IO session of this one (src/worker/sticky/). */
  | StickyConnection
  /** From another worker's Socket.IO adapter (src/worker/sticky/peer-channel.ts). */
  | { t: 'peers'; data: string };

/**
 * A connection handed over for sticky routing, with the bytes already read from
 * it. `listener` is the index of the listener that accepted it; `orphan` is set
 * when the master found no live owner and sent it back to be served where it landed.
 */
export interface StickyConnection {
  t: 'sticky';
  owner: number;
  listener: number;
  data: string;
  orphan?: boolean;
}

export interface WorkerStats {
  served: number;
  inflight: number;
  /** Open WebSockets of the apps in this worker. */
  websockets: number;
  rss: number;
  /** Metrics since the last heartbeat (observe/metrics.ts). */
  metrics?: unknown;
}

export type WorkerMessage =
  | { t: 'ready' }
  | { t: 'boot-error'; code: string; message: string; stack: string; exitCode: number }
  | ({ t: 'hb' } & WorkerStats)
  | { t: 'retire'; reason: RetireReason; detail?: string }
  | { t: 'ask'; id: number; type: string; payload: unknown }
  | { t: 'event'; type: string; payload: unknown }
  /** With the connection's handle, for the master to pass to the worker whose pid is `owner`. */
  | StickyConnection
  /** For every other worker's Socket.IO adapter; the master relays it as it is. */
  | { t: 'peers'; data: string };

export type RetireReason = 'max-requests' | 'memory' | 'uncaught-exception';

/** Written by the watchdog thread when the main thread has been blocked for a while. */
export interface StallReport {
  t: 'stall';
  /** How long the event loop had been blocked when the report was made. */
  blockedMs: number;
  /** 'GET /slow' for each request in progress; the one running now first when known. */
  requests: string[];
  /** The JavaScript stack where the main thread was paused, if it could be paused. */
  stack: string[];
}
